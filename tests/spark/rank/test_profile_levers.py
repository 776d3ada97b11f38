"""The paper's levers and the contrastive profile, end to end on features extracted from a
tiny random model: NAGs are stored in impact order, ``--top-k k`` on K=8 features equals
features extracted at K=3, the weightings combine with ``--layers``/``--power`` and every
lever is recorded (selection properties, MLflow params)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "extract"))
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rank_fixtures import read_delta  # noqa: E402
from tiny_model import tiny_model, write_docs  # noqa: E402,F401

from nag_spark.errors import InputError  # noqa: E402
from nag_spark.kernels.profile import PoolFrequencies, TargetProfile, nag_prefix  # noqa: E402
from nag_spark.kernels.scoring import ProfileScorer  # noqa: E402
from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402
from nag_spark.tables.nag_codec import index_rows  # noqa: E402

L, N = 2, 64  # the tiny Llama: 2 layers, intermediate size 64
N_POOL, N_TARGET = 48, 14


@pytest.fixture(scope="module")
def tiny_features(spark, tiny_model, tmp_path_factory):  # noqa: F811
    """The same documents extracted at K=8 and at K=3 (pool rows ``web``, target rows
    ``hellaswag_train`` in the same table)."""
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    root = tmp_path_factory.mktemp("levers")
    n = N_POOL + N_TARGET
    docids = [f"d{i:03d}" for i in range(n)]
    datasets = ["web"] * N_POOL + ["hellaswag_train"] * N_TARGET
    docs = write_docs(root / "docs.parquet", docids, seed=4, dataset=datasets)
    out = {"docs": docs, "dataset": dict(zip(docids, datasets))}
    for k in (8, 3):
        out[k] = str(root / f"features_k{k}")
        run_extraction(spark, ExtractOptions(input=str(root / "docs.parquet"), output=out[k],
                                             model=tiny_model, top_k=k, dtype="float32",
                                             track=False))
    return out


def _nags(path, k):
    df = read_delta(path).sort_values("docid").reset_index(drop=True)
    return df, np.stack(index_rows(df.fwd_up, L * k, "fwd_up")).astype(np.int64)


def test_stored_nags_are_in_descending_impact_order(tiny_features, tiny_model):
    """Recompute each document's impacts in-process and read the stored K=8 NAG against them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nag_spark.kernels.impact import NeuronImpact, left_pad
    from nag_spark.kernels.tokenize import prefix_token_ids

    df, nags = _nags(tiny_features[8], 8)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, torch_dtype=torch.float32).eval()
    tokens = prefix_token_ids(tokenizer, [tiny_features["docs"][d] for d in df.docid], 120)
    impact = NeuronImpact(model, ["fwd_up"], top_k=8)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    imps = np.concatenate([impact.impacts(*left_pad([t], pad))["fwd_up"].numpy()
                           for t in tokens])  # (D, L, N), one document at a time
    stored = nags.reshape(len(df), L, 8)
    got = np.take_along_axis(imps, stored, axis=2)  # impacts in stored order
    assert (np.diff(got, axis=2) <= 0).all(), "a stored NAG is not in descending impact order"
    # ... and they are the K largest: the 8th stored impact is at least every other one.
    others = imps.copy()
    np.put_along_axis(others, stored, -np.inf, axis=2)
    assert (got[:, :, -1] >= others.max(axis=2)).all()
    assert (np.diff(got, axis=2) < 0).mean() > 0.9  # strictly descending, not all ties


def test_top_k_on_k8_features_equals_features_extracted_at_k3(spark, tiny_features, tmp_path,
                                                              mlflow_uri):
    df8, nags8 = _nags(tiny_features[8], 8)
    df3, nags3 = _nags(tiny_features[3], 3)
    assert df8.docid.tolist() == df3.docid.tolist()
    assert np.array_equal(nag_prefix(nags8, L, 8, 3), nags3)  # the stored prefix is the K=3 NAG
    runs = {}
    for name, table, k in (("k8top3", tiny_features[8], 3), ("k3", tiny_features[3], None)):
        runs[name] = run_ranking(spark, RankOptions(
            targets=["hellaswag"], pool=table, output=str(tmp_path / name), fraction=1.0,
            top_k=k, experiment="rank-levers", n_bins=4, max_boundary_rows=8))
    a = read_delta(runs["k8top3"].output_path).sort_values("rank").reset_index(drop=True)
    b = read_delta(runs["k3"].output_path).sort_values("rank").reset_index(drop=True)
    assert len(a) == N_POOL and a.docid.tolist() == b.docid.tolist()
    assert np.array_equal(a.nag_distance.to_numpy(), b.nag_distance.to_numpy())  # bit for bit
    assert runs["k8top3"].targets[0].profile_digest == runs["k3"].targets[0].profile_digest
    assert a.nag_distance.nunique() > N_POOL // 2  # not a tie everywhere


@pytest.mark.parametrize("weighting,layers,power,k", [("log-ratio", "all", 1.0, 8),
                                                      ("tfidf", "last", 2.0, 3)])
def test_contrastive_runs_equal_the_reference_and_record_every_lever(
        spark, tiny_features, tmp_path, mlflow_uri, weighting, layers, power, k):
    import mlflow

    from nag_spark.delta import table_properties

    res = run_ranking(spark, RankOptions(
        targets=["hellaswag"], pool=tiny_features[8], output=str(tmp_path / "sel"),
        fraction=0.5, profile_weighting=weighting, layers=layers, power=power, top_k=k,
        experiment="rank-levers", n_bins=4, max_boundary_rows=8))
    df, nags = _nags(tiny_features[8], 8)
    nags = nag_prefix(nags, L, 8, k)
    is_target = (df.dataset == "hellaswag_train").to_numpy()
    pool = PoolFrequencies.from_nags(nags[~is_target], L, k, N)
    prof = TargetProfile.from_nags(nags[is_target], L, k, N, layers, power, weighting, pool)
    paper = TargetProfile.from_nags(nags[is_target], L, k, N, layers, power)
    assert not np.allclose(prof.weights, paper.weights)
    want = df[~is_target][["docid", "token_num"]].assign(
        nag_distance=ProfileScorer(prof).distance(nags[~is_target]))
    want = want.sort_values(["nag_distance", "docid"]).reset_index(drop=True)
    budget = int(np.floor(0.5 * want.token_num.sum()))
    keep = max(1, int((want.token_num.cumsum() <= budget).sum()))
    got = read_delta(res.output_path).sort_values("rank").reset_index(drop=True)
    assert got.docid.tolist() == want.docid[:keep].tolist()
    assert np.array_equal(got.nag_distance.to_numpy(), want.nag_distance[:keep].to_numpy())
    assert res.targets[0].profile_digest == prof.digest()
    assert "pool_frequencies" in res.timings
    props = table_properties(res.output_path)
    assert (props["nag.profile_weighting"], props["nag.score_top_k"], props["nag.layers"],
            props["nag.power"], props["nag.top_k"]) == (weighting, str(k), layers, str(power), "8")
    run = mlflow.get_run(res.run_id)
    assert {p: run.data.params[p] for p in ("profile_weighting", "score_top_k", "layers",
                                            "power", "top_k")} == {
        "profile_weighting": weighting, "score_top_k": str(k), "layers": layers,
        "power": str(power), "top_k": "8"}
    assert run.data.metrics["pool_frequency_docs"] == N_POOL


def test_paper_runs_record_their_levers_too(spark, tiny_features, tmp_path, mlflow_uri):
    import mlflow

    from nag_spark.delta import table_properties

    res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=tiny_features[3],
                                         output=str(tmp_path / "sel"), experiment="rank-levers"))
    props = table_properties(res.output_path)
    assert (props["nag.profile_weighting"], props["nag.score_top_k"]) == ("paper", "3")
    params = mlflow.get_run(res.run_id).data.params
    assert (params["profile_weighting"], params["score_top_k"]) == ("paper", "3")
    assert "pool_frequencies" not in res.timings


@pytest.mark.parametrize("change,match", [
    (dict(top_k=9), r"--top-k 9: must be an integer in \[1, 8\]; the features hold K = 8"),
    (dict(top_k=0), r"--top-k 0: must be an integer in \[1, 8\]"),
    (dict(profile_weighting="idf"), r"--profile-weighting 'idf': expected one of paper, "
                                    r"log-ratio, tfidf"),
])
def test_bad_levers_are_refused_before_any_work(spark, tiny_features, tmp_path, mlflow_uri,
                                                change, match):
    out = tmp_path / "sel"
    with pytest.raises(InputError, match=match):
        run_ranking(spark, RankOptions(targets=["hellaswag"], pool=tiny_features[8],
                                       output=str(out), experiment="rank-levers", **change))
    assert not out.exists()


def test_smollm2_fixture_nags_are_in_descending_impact_order(smollm2_features):
    """The same check on real SmolLM2 features (K=20), for a few documents: the impacts are
    recomputed here one document at a time (the extraction batched them, so sums may differ
    in the last float bits: a relative tolerance of 1e-5)."""
    import pandas as pd

    from nag_spark.kernels.impact import NeuronImpact, left_pad
    from nag_spark.kernels.tokenize import prefix_token_ids
    from nag_spark.models import load_backbone, resolve_model_spec

    from deltalake import DeltaTable

    table = DeltaTable(smollm2_features["pool"])
    props = table.metadata().configuration
    layers, k = int(props["nag.num_layers"]), int(props["nag.top_k"])
    df = table.to_pandas().sort_values("docid").head(6)
    texts_of = pd.read_parquet(Path(smollm2_features["pool"]).parent / "pool_sample.parquet",
                               columns=["docid", "doc"]).set_index("docid").doc
    backbone = load_backbone(resolve_model_spec(props["nag.model"]), props["nag.dtype"])
    impact = NeuronImpact(backbone.model, ["fwd_up"], top_k=k)
    tokens = prefix_token_ids(backbone.tokenizer, [texts_of[d] for d in df.docid],
                              int(props["nag.max_length"]))
    imps = np.concatenate([impact.impacts(*left_pad([t], backbone.pad_id))["fwd_up"].float().numpy()
                           for t in tokens])
    stored = np.stack(index_rows(df.fwd_up, layers * k, "fwd_up")).astype(np.int64)
    got = np.take_along_axis(imps, stored.reshape(len(df), layers, k), axis=2)
    assert (np.diff(got, axis=2) <= 1e-5 * got[:, :, :-1]).all()
    assert (np.diff(got, axis=2) < 0).mean() > 0.9
