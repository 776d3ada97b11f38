"""Distributed ranking (``run_ranking``) against a sequential pandas reference.

The pools are synthetic features tables with few distinct neurons, so distances tie a lot;
small ``n_bins``/``max_boundary_rows`` force histogram refinement and docid splitting.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rank_fixtures import K, L, LINEAGE, N, synthetic_pool, write_features  # noqa: E402

from nag_spark.errors import InputError, LineageMismatchError, NagError  # noqa: E402
from nag_spark.kernels.profile import TargetProfile  # noqa: E402
from nag_spark.kernels.scoring import ProfileScorer  # noqa: E402
from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402

TARGETS = {"hellaswag": "hellaswag_train", "arc_c": "arc_c_train"}
FAST = dict(n_bins=4, max_boundary_rows=5, rows_per_group=40)


def read_delta(path) -> pd.DataFrame:
    from deltalake import DeltaTable

    return DeltaTable(str(path)).to_pandas()


def reference(pool: pd.DataFrame, target: pd.DataFrame, names, fraction, layers="all",
              quality=False, invert=False, dedupe=False) -> pd.DataFrame:
    """Sequential spec: profile per target, distances, sort by (key, docid), budget prefix."""
    used = [TARGETS[n] for n in names]
    excluded = pool[~pool.dataset.isin(used)] if target is pool else pool
    nags = np.stack(excluded.fwd_up.to_numpy())
    frac = fraction / len(names)
    out, seen = [], set()
    for name in names:
        tn = np.stack(target[target.dataset == TARGETS[name]].fwd_up.to_numpy())
        prof = TargetProfile.from_nags(tn, L, K, N, layers)
        df = excluded[["docid", "dataset", "token_num"]].copy()
        df["nag_distance"] = ProfileScorer(prof).distance(nags)
        key = "nag_distance"
        if quality:
            d, q = df.nag_distance, excluded.quality
            qn = (q - q.min()) / (q.max() - q.min())
            df["combined_score"] = (d - d.min()) / (d.max() - d.min()) + (1.0 - qn if invert else qn)
            key = "combined_score"
        df = df.sort_values([key, "docid"]).reset_index(drop=True)
        budget = int(np.floor(frac * df.token_num.sum()))
        cum = df.token_num.cumsum()
        n = max(1, int((cum <= budget).sum()))
        sel = df.iloc[:n].assign(rank=np.arange(1, n + 1), cum_tokens=cum.iloc[:n].to_numpy(),
                                 target=name)
        if dedupe:
            keep = ~sel.docid.isin(seen)
            seen.update(sel.docid)
            sel = sel[keep]
        out.append(sel)
    return pd.concat(out)


def assert_same_selection(got: pd.DataFrame, want: pd.DataFrame, key="nag_distance"):
    got = got.sort_values(["target", "rank"]).reset_index(drop=True)
    want = want.sort_values(["target", "rank"]).reset_index(drop=True)
    assert got.docid.tolist() == want.docid.tolist()
    assert got["rank"].tolist() == want["rank"].tolist()
    assert got.cum_tokens.tolist() == want.cum_tokens.tolist()
    assert got.target.tolist() == want.target.tolist()
    assert np.array_equal(got[key].to_numpy(), want[key].to_numpy())  # bit for bit


@pytest.fixture(scope="module")
def pool(spark, tmp_path_factory):
    pdf = synthetic_pool(400, seed=11)
    path = str(tmp_path_factory.mktemp("rank") / "pool")
    write_features(spark, pdf, path, partitions=3)
    return pdf, path


def test_selection_exact_and_independent_of_partitioning(spark, pool, tmp_path, mlflow_uri):
    pdf, path = pool
    want = reference(pdf, pdf, ["hellaswag"], 0.3)
    # The same data laid out in one file instead of three, with other shuffle partitions.
    other = str(tmp_path / "pool_one_file")
    write_features(spark, pdf.sample(frac=1, random_state=5), other, partitions=1)
    tables = []
    for src, shuffles in ((path, "4"), (other, "7")):
        spark.conf.set("spark.sql.shuffle.partitions", shuffles)
        res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=src,
                                             output=str(tmp_path / f"sel_{shuffles}"),
                                             fraction=0.3, experiment="rank-tests", **FAST))
        got = read_delta(res.output_path)
        assert_same_selection(got, want)
        assert res.targets[0].refinement_rounds >= 1  # the boundary was refined
        tables.append(got.sort_values("rank").reset_index(drop=True))
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_multi_target_quality_layers_dedupe_and_tracking(spark, pool, tmp_path, mlflow_uri):
    import mlflow

    pdf, path = pool
    out = str(tmp_path / "sel")
    res = run_ranking(spark, RankOptions(
        targets=["hellaswag", "arc_c"], pool=path, output=out, fraction=0.4, layers="0,2",
        quality_col="quality", invert_quality=True, dedupe=True, payload_cols=("n_tokens",),
        experiment="rank-tests", **FAST))
    got = read_delta(out)
    want = reference(pdf, pdf, ["hellaswag", "arc_c"], 0.4, layers="0,2", quality=True,
                     invert=True, dedupe=True)
    assert_same_selection(got, want, key="combined_score")
    assert {"quality", "combined_score", "n_tokens"} <= set(got.columns)
    assert not got.docid.duplicated().any()

    from nag_spark.delta import table_properties

    props = table_properties(out)
    assert props["nag.kind"] == "selection" and props["nag.target"] == "hellaswag,arc_c"
    assert props["nag.layers"] == "0,2" and props["nag.mlflow_run_id"] == res.run_id
    assert props["nag.model"] == "synthetic" and props["nag.pool_table"] == path
    run = mlflow.get_run(res.run_id)
    assert run.data.tags["nag.kind"] == "rank"
    assert run.data.tags["nag.output_version"] == str(res.output_version)
    assert run.data.params["layers"] == "0,2" and run.data.params["model"] == "synthetic"
    m = run.data.metrics
    assert m["pool_docs"] == len(pdf[~pdf.dataset.isin(TARGETS.values())])  # both targets used
    assert m["selected_docs"] == len(got) and "distance_q50.arc_c" in m and "time_total_s" in m
    client = mlflow.MlflowClient()
    arts = {a.path for d in ("profile", "plots", "stats") for a in client.list_artifacts(res.run_id, d)}
    assert {"profile/profile.npz", "plots/profile_heatmap.png", "plots/distance_hist.png",
            "plots/composition.png", "stats/distance_hist.json", "stats/composition.json"} <= arts
    local = Path(client.download_artifacts(res.run_id, "stats"))
    hist = json.loads((local / "distance_hist.json").read_text())
    comp = json.loads((local / "composition.json").read_text())
    assert len(hist["edges"]) == len(next(iter(hist["counts"].values()))) + 1
    assert set(hist["boundary"]) == {"hellaswag", "arc_c"}
    assert comp["selected"]["arc_c"] == got[got.target == "arc_c"].groupby("dataset").token_num.sum().to_dict()
    inputs = {i.dataset.name for i in run.inputs.dataset_inputs}
    assert {"pool", "selection"} <= inputs


def test_all_equal_distances_first_row_over_budget_and_fraction_one(spark, tmp_path, mlflow_uri):
    pdf = synthetic_pool(60, seed=2)
    pdf["fwd_up"] = [np.arange(L * K, dtype=np.int16) % N] * len(pdf)  # every NAG identical
    pdf["dataset"] = "web"
    first = sorted(pdf.docid)[0]
    pdf.loc[pdf.docid == first, "token_num"] = 10**6  # the first row alone busts the budget
    target = pdf.head(5).assign(dataset="hellaswag_train", docid=lambda d: "t" + d.docid)
    pool_path, target_path = str(tmp_path / "pool"), str(tmp_path / "targets")
    write_features(spark, pdf, pool_path)
    write_features(spark, target, target_path, partitions=1)
    for fraction in (0.1, 1.0):
        res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=pool_path,
                                             target_features=target_path,
                                             output=str(tmp_path / f"s{fraction}"),
                                             fraction=fraction, experiment="rank-tests", **FAST))
        got = read_delta(res.output_path)
        assert_same_selection(got, reference(pdf, target, ["hellaswag"], fraction))
        assert len(got) == (1 if fraction < 1 else len(pdf))


# ---------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def bad_tables(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    pdf = synthetic_pool(40, seed=3)
    paths = {"good": write_features(spark, pdf, str(root / "good"), partitions=1)}
    paths["other_k"] = write_features(spark, pdf, str(root / "other_k"), {"nag.top_k": "5"}, 1)
    paths["other_model"] = write_features(spark, pdf, str(root / "other_model"),
                                          {"nag.model": "qwen3"}, 1)
    neg = pdf.copy()
    neg.loc[3, "token_num"] = -4
    paths["negative"] = write_features(spark, neg, str(root / "negative"), partitions=1)
    paths["no_tokens"] = str(root / "no_tokens")
    from nag_spark.delta import read_table, write_table

    write_table(read_table(spark, paths["good"]).drop("token_num"), paths["no_tokens"],
                mode="overwrite", properties=LINEAGE)
    return paths, root


@pytest.mark.parametrize("change,error,message", [
    (dict(pool="other_k"), LineageMismatchError, "nag.top_k"),
    (dict(pool="other_model"), LineageMismatchError, "nag.model"),
    (dict(targets=["nope"]), NagError, "known targets: .*hellaswag"),
    (dict(targets=["dataset=no_such_split"]), InputError, "empty.*values present"),
    (dict(fraction=0.0), InputError, "fraction"),
    (dict(fraction=1.2), InputError, "fraction"),
    (dict(pool="no_tokens"), InputError, "token_num"),
    (dict(pool="negative"), InputError, "negative"),
    (dict(neuron_type="fwd_sideways"), InputError, "unknown neuron type"),
    (dict(layers="9"), InputError, "out of range"),
    (dict(quality_col="nope"), InputError, "'nope'"),
    (dict(pool="missing"), NagError, "no Delta table"),
])
def test_bad_inputs_give_clear_errors(spark, bad_tables, mlflow_uri, change, error, message):
    paths, root = bad_tables
    opts = dict(targets=["hellaswag"], pool="good", target_features="good", fraction=0.2,
                experiment="rank-tests")
    opts.update(change)
    opts["pool"] = paths.get(opts["pool"], str(root / opts["pool"]))
    opts["target_features"] = paths["good"]
    with pytest.raises(error, match=message):
        run_ranking(spark, RankOptions(output=str(root / "out"), **opts))


def test_output_spelled_as_a_uri_of_an_input_is_refused(spark, bad_tables, mlflow_uri):
    from nag_spark.delta import table_version

    paths, _ = bad_tables
    before = table_version(paths["good"], spark)
    for output in ("file://" + paths["good"], paths["good"] + "/"):
        with pytest.raises(InputError, match="would overwrite an input table"):
            run_ranking(spark, RankOptions(targets=["hellaswag"], pool=paths["good"],
                                           output=output, experiment="rank-tests"))
    assert table_version(paths["good"], spark) == before
