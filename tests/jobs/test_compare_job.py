"""jobs/compare.py end to end on real SmolLM2 features.

Two real rank runs (``run_ranking``: HellaSwag and ARC-Challenge targets, 20% of tokens)
over the suite's ``smollm2_features`` are compared by the job, run as its own process
against the same MLflow store. Error exits are checked too.
"""
from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from conftest import run_job


@pytest.fixture(scope="module")
def real_rank_runs(spark, smollm2_features, mlflow_uri, tmp_path_factory):
    from nag_spark.spark.rank import RankOptions, run_ranking

    root = tmp_path_factory.mktemp("real-rank")
    runs = {}
    for target in ("hellaswag", "arc_c"):
        res = run_ranking(spark, RankOptions(
            targets=[target], pool=smollm2_features["pool"],
            target_features=smollm2_features["targets"], output=str(root / target),
            fraction=0.2, experiment="compare-job", run_name=target))
        runs[target] = res
    return runs


def test_compare_job_on_real_rank_runs(real_rank_runs, tmp_path, mlflow_uri):
    from deltalake import DeltaTable

    h, a = real_rank_runs["hellaswag"], real_rank_runs["arc_c"]
    out = tmp_path / "report"
    proc = run_job(["jobs/compare.py", "--runs", f"{h.run_id},{a.run_id}", "--output", str(out)])
    assert "Compared 2 rank runs" in proc.stdout and "Parameters that differ:" in proc.stdout
    for name in ("report.html", "overview.png", "distance.png", "composition.png", "jaccard.png"):
        assert (out / name).is_file(), name
    # Jaccard from the report equals the one computed from the two Delta tables directly.
    sel = {k: DeltaTable(r.output_path, version=r.output_version).to_pandas()
           for k, r in real_rank_runs.items()}
    ids = {k: set(v.docid) for k, v in sel.items()}
    want = len(ids["hellaswag"] & ids["arc_c"]) / len(ids["hellaswag"] | ids["arc_c"])
    got = pd.read_csv(out / "jaccard_docids.csv", index_col=0)
    assert got.loc["hellaswag", "arc_c"] == pytest.approx(want)
    comp = pd.read_csv(out / "composition.csv", index_col=0)
    assert list(comp.columns) == ["pool", "hellaswag", "arc_c"]
    client = mlflow.MlflowClient(mlflow_uri)
    compare_runs = client.search_runs(
        [client.get_experiment_by_name("compare-job").experiment_id],
        filter_string="tags.\"nag.kind\" = 'compare'")
    assert len(compare_runs) == 1
    assert compare_runs[0].data.tags["nag.compared_runs"] == f"{h.run_id},{a.run_id}"


def test_compare_job_errors(real_rank_runs, tmp_path):
    h = real_rank_runs["hellaswag"]
    proc = run_job(["jobs/compare.py", "--runs", f"{h.run_id},0123456789abcdef",
                    "--output", str(tmp_path)], check=False)
    assert proc.returncode == 2
    assert "error: MLflow run(s) not found" in proc.stderr and "0123456789abcdef" in proc.stderr
    proc = run_job(["jobs/compare.py", "--runs", h.run_id, "--last", "2", "--output", str(tmp_path)],
                   check=False)
    assert proc.returncode == 2 and "--last goes with --experiment" in proc.stderr
