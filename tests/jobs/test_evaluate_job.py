"""``jobs/evaluate.py`` end to end: real rank selections, a real MLflow store, the JSON
file, the evaluate run linked both ways to the rank runs; CLI errors exit 2 in one line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "evaluate"))
from eval_fixtures import eval_selections  # noqa: E402,F401

from conftest import run_job  # noqa: E402


def test_cli_evaluates_two_selections_and_links_runs(spark, eval_selections, mlflow_uri,  # noqa: F811
                                                     tmp_path):
    from mlflow.tracking import MlflowClient

    from nag_spark.spark.compare import compare_runs

    sel = eval_selections
    out = tmp_path / "eval.json"
    proc = run_job(["jobs/evaluate.py", "--selections", f"{sel['sel_a']},{sel['sel_b']}",
                    "--pool-docs", sel["docs"], "--eval-docs", sel["eval"],
                    "--eval-filter", "dataset=hellaswag_val", "--seeds", "2", "--seq-len", "64",
                    "--batch", "4", "--output-json", str(out), "--experiment", "evaluate-tests"],
                   env={"MLFLOW_TRACKING_URI": mlflow_uri})
    assert "nats/token (2 seeds" in proc.stdout and "mlflow run" in proc.stdout
    doc = json.loads(out.read_text())
    assert len(doc["results"]) == 2
    assert len({r["train_tokens"] for r in doc["results"]}) == 1
    client = MlflowClient(mlflow_uri)
    run = client.get_run(doc["mlflow_run_id"])
    assert run.data.tags["nag.kind"] == "evaluate"
    assert set(run.data.tags["nag.selection_runs"].split(",")) == {sel["sel_a_run"], sel["sel_b_run"]}
    assert run.data.metrics["loss_mean.0.dataset_hellaswag_val"] == doc["results"][0]["loss_mean"]
    assert run.data.params["train_tokens"] == str(doc["results"][0]["train_tokens"])
    for key in ("sel_a_run", "sel_b_run"):
        tags = client.get_run(sel[key]).data.tags
        assert tags["nag.kind"] == "rank"
        assert tags["nag.evaluated_by"] == doc["mlflow_run_id"]
        assert "nats (tiny," in tags["nag.evaluation.dataset_hellaswag_val"]
    # jobs/compare.py shows the evaluation next to overlap and composition
    report = compare_runs([sel["sel_a_run"], sel["sel_b_run"]], output_dir=tmp_path / "cmp",
                          spark=spark, log_run=False, print_summary=False)
    assert "Proxy evaluation" in report.summary
    line = [x for x in report.summary.splitlines() if "dataset_hellaswag_val:" in x][0]
    assert f"{doc['results'][0]['loss_mean']:.4f}" in line
    assert (tmp_path / "cmp" / "evaluation.csv").is_file()


def test_cli_refuses_eval_on_the_target_split(eval_selections, tmp_path):  # noqa: F811
    sel = eval_selections
    proc = run_job(["jobs/evaluate.py", "--selections", sel["sel_a"], "--pool-docs", sel["docs"],
                    "--eval-docs", sel["eval"], "--eval-filter", "dataset=hellaswag_train",
                    "--no-mlflow"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: eval set dataset=hellaswag_train "
                                                           "is not held out")
