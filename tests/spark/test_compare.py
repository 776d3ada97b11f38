"""compare_runs (nag_spark/spark/compare.py) against hand-made rank runs
(tests/rank_run_fixtures.py) in a local sqlite MLflow store."""
from __future__ import annotations

import mlflow
import numpy as np
import pytest

from nag_spark.errors import InputError, TableError
from nag_spark.spark.compare import compare_runs

from rank_run_fixtures import make_rank_run, small_pool  # noqa: F401  (fixtures)


def _jaccard(a, b, col):
    """Reference Jaccard of two selections on distinct docids (col=None) or their tokens."""
    ids_a, ids_b = set(a.docid), set(b.docid)
    tokens = {**dict(zip(a.docid, a.token_num)), **dict(zip(b.docid, b.token_num))}
    inter, union = ids_a & ids_b, ids_a | ids_b
    if col is None:
        return len(inter) / len(union)
    return sum(tokens[d] for d in inter) / sum(tokens[d] for d in union)


@pytest.fixture(scope="module")
def three_runs(make_rank_run, small_pool, tmp_path_factory, mlflow_uri):
    """Runs a (20%) and b (30%, same distances: a superset) on table t1; c overwrites t1."""
    root = tmp_path_factory.mktemp("compare")
    t1, t2 = str(root / "sel_t1"), str(root / "sel_t2")
    a = make_rank_run(small_pool, t1, experiment="cmp", name="a", fraction=0.2, seed=1)
    b = make_rank_run(small_pool, t2, experiment="cmp", name="b", fraction=0.3, seed=1)
    c = make_rank_run(small_pool, t1, experiment="cmp", name="c", fraction=0.2, seed=2,
                      target="arc_c")
    return {"a": a, "b": b, "c": c, "root": root}


def test_compare_three_runs(three_runs, tmp_path, spark, mlflow_uri, capsys):
    (ida, sa), (idb, sb), (idc, sc) = three_runs["a"], three_runs["b"], three_runs["c"]
    report = compare_runs([ida, idb, idc], output_dir=tmp_path, spark=spark)
    labels = ["a", "b", "c"]
    assert [r.label for r in report.runs] == labels
    # a was read at its own version of t1, although c overwrote t1 afterwards.
    assert report.selection.loc["a", "docids"] == len(sa)
    assert report.selection.loc["c", "docids"] == len(sc)
    sels = {"a": sa, "b": sb, "c": sc}
    for x in labels:
        for y in labels:
            if x < y:
                assert report.jaccard_docids.loc[x, y] == pytest.approx(_jaccard(sels[x], sels[y], None))
                assert report.jaccard_tokens.loc[x, y] == pytest.approx(_jaccard(sels[x], sels[y], "t"))
    assert set(sa.docid) <= set(sb.docid)  # same distances, bigger budget
    # parameters that differ come first
    differ = report.params.index[report.params["differs"]].tolist()
    assert set(differ) == {"fraction", "seed", "target"}
    assert report.params.index[:3].tolist() == sorted(differ)
    # composition: the pool and one column per run, shares summing to 1
    assert list(report.composition.columns) == ["pool", *labels]
    assert np.allclose(report.composition.sum(), 1.0)
    expected_share = sa.groupby("dataset").token_num.sum() / sa.token_num.sum()
    for ds, share in expected_share.items():
        assert report.composition.loc[ds, "a"] == pytest.approx(share)
    # outputs on disk and in a compare run
    for name in ("jaccard.png", "composition.png", "distance.png", "overview.png",
                 "report.html", "params.csv", "summary.txt"):
        assert (tmp_path / name).is_file(), name
    page = (tmp_path / "report.html").read_text()
    assert "Parameters" in page and "distance.png" in page and ida in page
    out = capsys.readouterr().out
    assert "Compared 3 rank runs" in out and "Parameters that differ: fraction, seed, target" in out
    client = mlflow.MlflowClient(mlflow_uri)
    run = client.get_run(report.run_id)
    assert run.data.tags["nag.kind"] == "compare"
    assert run.data.tags["nag.compared_runs"] == ",".join([ida, idb, idc])
    arts = {a.path for a in client.list_artifacts(report.run_id, "compare")}
    assert {"compare/report.html", "compare/distance.png", "compare/jaccard.png"} <= arts


def test_compare_last_runs_of_experiment(three_runs, tmp_path, spark):
    report = compare_runs(experiment="cmp", last=2, output_dir=tmp_path, spark=spark,
                          log_run=False, print_summary=False)
    # the two most recent, oldest first; the compare run of the test above is not a rank run
    assert [r.label for r in report.runs] == ["b", "c"]
    assert report.run_id is None


def test_clear_errors(three_runs, make_rank_run, small_pool, tmp_path, spark):
    ida = three_runs["a"][0]
    with pytest.raises(InputError, match="not found.*no-such-run"):
        compare_runs([ida, "no-such-run"], output_dir=tmp_path, spark=spark)
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("cmp").experiment_id,
                          tags={"nag.kind": "extract"}) as other:
        pass
    with pytest.raises(InputError, match=f"another kind: {other.info.run_id} \\(nag.kind=extract\\)"):
        compare_runs([ida, other.info.run_id], output_dir=tmp_path, spark=spark)
    with pytest.raises(InputError, match="at least two rank runs"):
        compare_runs([ida], output_dir=tmp_path, spark=spark)
    with pytest.raises(InputError, match="experiment 'nope' not found"):
        compare_runs(experiment="nope", output_dir=tmp_path, spark=spark)
    with pytest.raises(InputError, match="either run ids"):
        compare_runs(output_dir=tmp_path, spark=spark)


def test_vacuumed_version_is_a_clear_error(make_rank_run, small_pool, tmp_path, spark):
    from deltalake import DeltaTable

    table = str(tmp_path / "sel")
    old, _ = make_rank_run(small_pool, table, experiment="cmp-vacuum", name="old", fraction=0.2, seed=3)
    new, _ = make_rank_run(small_pool, table, experiment="cmp-vacuum", name="new", fraction=0.2, seed=4)
    # The overwrite made version 0's files unreferenced; vacuum deletes them.
    removed = DeltaTable(table).vacuum(retention_hours=0, enforce_retention_duration=False,
                                       dry_run=False)
    assert removed
    version = mlflow.MlflowClient().get_run(old).data.tags["nag.output_version"]
    with pytest.raises(TableError, match=rf"selection table {table} at version {version} .*vacuumed"):
        compare_runs([old, new], output_dir=tmp_path / "out", spark=spark, log_run=False)


def test_run_comparison_takes_frozen_options(three_runs, tmp_path, spark):
    import dataclasses

    from nag_spark.spark.compare import CompareOptions, run_comparison

    (ida, sa), (idb, _) = three_runs["a"], three_runs["b"]
    opts = CompareOptions(run_ids=(ida, idb), output_dir=str(tmp_path), log_run=False,
                          print_summary=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.last = 3
    report = run_comparison(opts, spark=spark)
    assert [r.run_id for r in report.runs] == [ida, idb] and report.run_id is None
    # a's selection (20%) is inside b's (30%, same distances)
    assert report.jaccard_docids.loc["a", "b"] == pytest.approx(len(sa) / report.selection.loc["b", "docids"])
    assert (tmp_path / "summary.txt").read_text() == report.summary + "\n"
