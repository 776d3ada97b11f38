"""MLflow run helpers against a real sqlite-backed MLflow store."""
import mlflow
from mlflow.tracking import MlflowClient

from nag_spark.tracking.runs import KIND_TAG, log_delta_table, start_run, tracking_uri


def test_run_is_tagged_with_its_kind_and_records_tables(mlflow_uri, tmp_path):
    assert tracking_uri() == mlflow_uri
    with start_run("rank", experiment="runs-test", run_name="r1") as run:
        mlflow.log_param("target", "hellaswag")
        log_delta_table(str(tmp_path / "pool"), 3, context="input")
        log_delta_table(str(tmp_path / "sel"), 0, context="output")
    client = MlflowClient(mlflow_uri)
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.tags[KIND_TAG] == "rank"
    assert got.data.tags["nag.table.input"] == f"{tmp_path / 'pool'}@v3"
    contexts = sorted(
        tag.value for d in got.inputs.dataset_inputs for tag in d.tags if tag.key == "mlflow.data.context"
    )
    assert contexts == ["input", "output"]
    # artifacts live beside the sqlite file, not in the working directory
    exp = client.get_experiment_by_name("runs-test")
    from pathlib import Path
    store_dir = Path(mlflow_uri[len("sqlite:///"):]).parent
    assert exp.artifact_location == (store_dir / "mlruns" / "runs-test").as_uri()


def test_failed_block_marks_the_run_failed(mlflow_uri):
    try:
        with start_run("extract", experiment="runs-test") as run:
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert MlflowClient(mlflow_uri).get_run(run.info.run_id).info.status == "FAILED"


import pytest


@pytest.fixture
def restore_mlflow_uri():
    before = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(before)  # tracking_uri() sets MLflow's process-wide URI


def test_databricks_cluster_logs_to_the_workspace(monkeypatch, restore_mlflow_uri):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    assert tracking_uri() == "databricks"


def test_default_store_is_sqlite_in_the_working_directory(monkeypatch, tmp_path, restore_mlflow_uri):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == f"sqlite:///{tmp_path / 'mlruns.db'}"
