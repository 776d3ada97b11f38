"""``jobs/select.py`` end to end: a real MLflow store (tag ``nag.kind=select``), the
selection table read back with delta-rs, and one-line CLI errors."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spark" / "select"))

from conftest import run_job  # noqa: E402
from select_fixtures import make_docs, make_targets, read_selection, write_parquet  # noqa: E402


def test_cli_bm25_end_to_end_with_mlflow(tmp_path, mlflow_uri):
    from mlflow.tracking import MlflowClient

    pool = write_parquet(make_docs(), tmp_path / "pool.parquet")
    targets = write_parquet(make_targets(), tmp_path / "targets.parquet")
    out = tmp_path / "selection"
    proc = run_job(["jobs/select.py", "--method", "bm25", "--target-filter", "dataset=cooking_train",
                    "--pool-docs", pool, "--target-docs", targets, "--output", str(out),
                    "--fraction", "0.15", "--experiment", "select-e2e", "--payload-cols", "doc"],
                   env={"MLFLOW_TRACKING_URI": mlflow_uri})
    assert "selection:" in proc.stdout
    sel, props = read_selection(out)
    assert set(sel.dataset) == {"cooking"} and sel.token_num.sum() <= int(0.15 * make_docs().token_num.sum())
    assert "doc" in sel.columns  # the payload column travelled
    client = MlflowClient(mlflow_uri)
    run = client.get_run(props["nag.mlflow_run_id"])
    assert run.data.tags["nag.kind"] == "select" and run.data.tags["nag.method"] == "bm25"
    assert run.data.tags["nag.output_path"] == str(out) and run.info.status == "FINISHED"
    assert run.data.params["method"] == "bm25" and run.data.params["fraction"] == "0.15"
    assert run.data.metrics["selected_docs"] == len(sel)
    assert run.data.metrics["selected_tokens"] == sel.token_num.sum()
    arts = {a.path for a in client.list_artifacts(run.info.run_id, "stats")}
    assert "stats/composition.json" in arts


def test_cli_errors_are_one_line(tmp_path, mlflow_uri):
    pool = write_parquet(make_docs(2), tmp_path / "pool.parquet")
    proc = run_job(["jobs/select.py", "--method", "random", "--target", "nope", "--pool-docs", pool,
                    "--output", str(tmp_path / "o"), "--no-mlflow"], check=False)
    assert proc.returncode == 2 and "error: unknown target 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_job(["jobs/select.py", "--method", "tfidf", "--target", "hellaswag",
                    "--pool-docs", pool, "--output", str(tmp_path / "o")], check=False)
    assert proc.returncode == 2 and "invalid choice: 'tfidf'" in proc.stderr
    proc = run_job(["jobs/select.py", "--method", "random", "--target", "hellaswag", "--pool-docs",
                    pool, "--output", str(tmp_path / "o"), "--fraction", "0", "--no-mlflow"], check=False)
    assert proc.returncode == 2 and "--fraction must be in (0, 1]" in proc.stderr
