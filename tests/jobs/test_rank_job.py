"""``jobs/rank.py`` end to end: real SmolLM2 features, CLI errors."""
from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

from conftest import REPO, run_job
from nag_spark.tables.nag_codec import index_rows

SPLITS = {"hellaswag": "hellaswag_train", "arc_c": "arc_c_train"}


def features(path):
    from deltalake import DeltaTable

    table = DeltaTable(str(path))
    return table.to_pandas(), table.metadata().configuration


def sequential_reference(pool, targets, props, names, fraction, layers="all"):
    """DESIGN.md §1 in plain pandas: per-target profile, distances, budget prefix."""
    from nag_spark.kernels.profile import TargetProfile
    from nag_spark.kernels.scoring import ProfileScorer

    L, K = int(props["nag.num_layers"]), int(props["nag.top_k"])
    N = int(props["nag.n_neurons.fwd_up"])
    nags = np.stack(index_rows(pool.fwd_up, L * K, "fwd_up")).astype(np.int64)
    out = []
    for name in names:
        tn = np.stack(index_rows(targets[targets.dataset == SPLITS[name]].fwd_up, L * K, "fwd_up"))
        prof = TargetProfile.from_nags(tn, L, K, N, layers)
        df = pool[["docid", "dataset", "token_num"]].copy()
        df["nag_distance"] = ProfileScorer(prof).distance(nags)
        # the plain per-layer formula agrees with the kernel to 1e-12
        chosen = prof.layers
        plain = 1 - sum(prof.weights[l][nags[:, l * K:(l + 1) * K]].sum(axis=1)
                        for l in chosen) / len(chosen)
        np.testing.assert_allclose(df.nag_distance, plain, rtol=0, atol=1e-12)
        df = df.sort_values(["nag_distance", "docid"]).reset_index(drop=True)
        budget = int(np.floor(fraction / len(names) * df.token_num.sum()))
        cum = df.token_num.cumsum()
        n = max(1, int((cum <= budget).sum()))
        out.append(df.iloc[:n].assign(rank=np.arange(1, n + 1), cum_tokens=cum.iloc[:n].to_numpy(),
                                      target=name))
    return pd.concat(out).sort_values(["target", "rank"]).reset_index(drop=True)


def check(got: pd.DataFrame, want: pd.DataFrame):
    got = got.sort_values(["target", "rank"]).reset_index(drop=True)
    for col in ("docid", "rank", "cum_tokens", "target", "token_num"):
        assert got[col].tolist() == want[col].tolist(), col
    assert np.array_equal(got.nag_distance.to_numpy(), want.nag_distance.to_numpy())


def test_cli_multi_target_on_smollm2_features(smollm2_features, tmp_path, mlflow_uri):
    out = tmp_path / "selection"
    proc = run_job(["jobs/rank.py", "--target", "hellaswag,arc_c", "--pool", smollm2_features["pool"],
                    "--target-features", smollm2_features["targets"], "--output", str(out),
                    "--fraction", "0.2", "--experiment", "rank-e2e"])
    assert "selection:" in proc.stdout
    pool, props = features(smollm2_features["pool"])
    targets, _ = features(smollm2_features["targets"])
    got, out_props = features(out)
    check(got, sequential_reference(pool, targets, props, ["hellaswag", "arc_c"], 0.2))
    assert out_props["nag.target"] == "hellaswag,arc_c" and out_props["nag.kind"] == "selection"
    assert out_props["nag.model"] == props["nag.model"]


def test_library_last_layer_on_smollm2_features(spark, smollm2_features, tmp_path, mlflow_uri):
    from nag_spark.spark.rank import RankOptions, run_ranking

    res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=smollm2_features["pool"],
                                         target_features=smollm2_features["targets"],
                                         output=str(tmp_path / "last"), layers="last",
                                         fraction=0.3, experiment="rank-e2e", n_bins=8,
                                         max_boundary_rows=10))
    pool, props = features(smollm2_features["pool"])
    targets, _ = features(smollm2_features["targets"])
    got, _ = features(res.output_path)
    check(got, sequential_reference(pool, targets, props, ["hellaswag"], 0.3, layers="last"))


def test_cli_errors_exit_2(tmp_path, mlflow_uri):
    proc = run_job(["jobs/rank.py", "--target", "no_such_target", "--pool", str(tmp_path / "p"),
                    "--output", str(tmp_path / "o")], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown target 'no_such_target'")
    assert "hellaswag" in proc.stderr
    proc = run_job(["jobs/rank.py", "--target", "hellaswag", "--pool", str(tmp_path / "p"),
                    "--output", str(tmp_path / "o"), "--fraction", "2"], check=False)
    assert proc.returncode == 2 and "error: --fraction must be in (0, 1]" in proc.stderr


def _rank_job():
    spec = importlib.util.spec_from_file_location("rank_job", REPO / "jobs" / "rank.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_builds_frozen_options_with_comma_lists_and_option_defaults():
    from nag_spark.spark.rank import RankOptions

    job = _rank_job()
    opts = job.options(job.parse_args([
        "--target", "hellaswag, arc_c,", "--target-filter", "dataset=a|b", "--pool", "p",
        "--output", "o", "--payload-cols", "url, title"]))
    assert opts.payload_cols == ("url", "title")  # no leading space kept (one comma-list rule)
    assert list(opts.targets) == ["hellaswag", "arc_c", "dataset=a|b"]
    defaults = RankOptions(targets=["t"], pool="p", output="o")
    for name in ("fraction", "neuron_type", "layers", "power", "mode", "n_bins"):
        assert getattr(opts, name) == getattr(defaults, name), name
    assert job.options(job.parse_args(["--pool", "p", "--output", "o"])).payload_cols == ()


def test_cli_contrastive_top_k_on_smollm2_features(smollm2_features, tmp_path, mlflow_uri):
    """``--profile-weighting log-ratio --top-k 10 --layers last`` equals the kernels run in
    sequence on the tables read back independently; a k above K is refused (exit 2)."""
    from nag_spark.kernels.profile import PoolFrequencies, TargetProfile, nag_prefix
    from nag_spark.kernels.scoring import ProfileScorer

    out = tmp_path / "contrastive"
    run_job(["jobs/rank.py", "--target", "hellaswag", "--pool", smollm2_features["pool"],
             "--target-features", smollm2_features["targets"], "--output", str(out),
             "--profile-weighting", "log-ratio", "--top-k", "10", "--layers", "last",
             "--experiment", "rank-e2e"])
    pool, props = features(smollm2_features["pool"])
    targets, _ = features(smollm2_features["targets"])
    L, K, N = int(props["nag.num_layers"]), int(props["nag.top_k"]), int(props["nag.n_neurons.fwd_up"])
    nags = nag_prefix(np.stack(index_rows(pool.fwd_up, L * K, "fwd_up")).astype(np.int64), L, K, 10)
    tn = targets[targets.dataset == "hellaswag_train"].fwd_up
    tnags = nag_prefix(np.stack(index_rows(tn, L * K, "fwd_up")).astype(np.int64), L, K, 10)
    prof = TargetProfile.from_nags(tnags, L, 10, N, "last", 1.0, "log-ratio",
                                   PoolFrequencies.from_nags(nags, L, 10, N))
    want = pool[["docid", "token_num"]].assign(nag_distance=ProfileScorer(prof).distance(nags))
    want = want.sort_values(["nag_distance", "docid"]).reset_index(drop=True)
    keep = max(1, int((want.token_num.cumsum() <= int(np.floor(0.2 * want.token_num.sum()))).sum()))
    got, out_props = features(out)
    got = got.sort_values("rank").reset_index(drop=True)
    assert got.docid.tolist() == want.docid[:keep].tolist()
    assert np.array_equal(got.nag_distance.to_numpy(), want.nag_distance[:keep].to_numpy())
    assert (out_props["nag.profile_weighting"], out_props["nag.score_top_k"],
            out_props["nag.layers"], out_props["nag.top_k"]) == ("log-ratio", "10", "last", "20")
    proc = run_job(["jobs/rank.py", "--target", "hellaswag", "--pool", smollm2_features["pool"],
                    "--target-features", smollm2_features["targets"], "--output",
                    str(tmp_path / "o"), "--top-k", "21"], check=False)
    assert proc.returncode == 2
    assert "error: --top-k 21: must be an integer in [1, 20]; the features hold K = 20" in proc.stderr


def test_cli_profile_levers_parse_and_bad_weighting_exits_2(tmp_path):
    job = _rank_job()
    opts = job.options(job.parse_args(["--pool", "p", "--output", "o", "--profile-weighting",
                                       "tfidf", "--top-k", "5", "--power", "2", "--layers", "last"]))
    assert (opts.profile_weighting, opts.top_k, opts.power, opts.layers) == ("tfidf", 5, 2.0, "last")
    default = job.options(job.parse_args(["--pool", "p", "--output", "o"]))
    assert (default.profile_weighting, default.top_k) == ("paper", None)
    proc = run_job(["jobs/rank.py", "--target", "hellaswag", "--pool", str(tmp_path / "p"),
                    "--output", str(tmp_path / "o"), "--profile-weighting", "idf"], check=False)
    assert proc.returncode == 2 and "invalid choice: 'idf'" in proc.stderr
