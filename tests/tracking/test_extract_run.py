"""What an extract run records, with duck-typed plan/input/result objects (no Spark)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mlflow.tracking import MlflowClient

from nag_spark.tracking.extract_run import extract_run, record_extract_result, record_extract_start
from nag_spark.tracking.schema import INPUT_PATH_TAG, KIND_TAG, OUTPUT_PATH_TAG, table_tag


def _plan(output: str):
    return SimpleNamespace(
        options=SimpleNamespace(format="web", limit=None), output=output,
        lineage=SimpleNamespace(model="smollm2-135m", model_digest="sha256:abc"),
        neuron_types=("fwd_up", "att_k"), top_k=20, max_length=120, dtype="float32",
        device="auto", batch_tokens=4096, chunk_docs=20000)


def _result(output: str, version):
    return SimpleNamespace(output=output, version=version, docs_processed=10,
                           docs_already_present=2, docs_skipped_empty=1, docs_skipped_no_tokens=0,
                           tokens=500, seconds=2.0, docs_per_s=5.0, tokens_per_s=250.0)


def test_a_run_records_params_input_metrics_and_output(mlflow_uri, tmp_path):
    out = str(tmp_path / "feats")
    with extract_run(out, experiment="extract-run-test", run_name="e1") as run_id:
        record_extract_start(_plan(out), SimpleNamespace(path="docs.parquet", kind="parquet", version=None))
        record_extract_result(_result(out, 3))
    run = MlflowClient(mlflow_uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "e1"
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags[KIND_TAG] == "extract" and tags[OUTPUT_PATH_TAG] == out
    assert tags[INPUT_PATH_TAG] == "docs.parquet" and tags[table_tag("output")] == f"{out}@v3"
    assert params == {
        "input": "docs.parquet", "input_kind": "parquet", "format": "web", "output": out,
        "model": "smollm2-135m", "model_digest": "sha256:abc", "neuron_types": "fwd_up,att_k",
        "top_k": "20", "max_length": "120", "dtype": "float32", "device": "auto",
        "batch_tokens": "4096", "chunk_docs": "20000", "limit": "None", "dtype_reason": ""}
    assert metrics == {"docs_processed": 10.0, "docs_already_present": 2.0,
                       "docs_skipped_empty": 1.0, "docs_skipped_no_tokens": 0.0, "tokens": 500.0,
                       "seconds": 2.0, "docs_per_s": 5.0, "tokens_per_s": 250.0}


def test_delta_input_is_a_dataset_and_no_output_version_no_output_tag(mlflow_uri, tmp_path):
    out = str(tmp_path / "feats")
    with extract_run(out, experiment="extract-run-test") as run_id:
        record_extract_start(_plan(out), SimpleNamespace(path=str(tmp_path / "docs"), kind="delta", version=4))
        record_extract_result(_result(out, None))
    tags = MlflowClient(mlflow_uri).get_run(run_id).data.tags
    assert tags[table_tag("input")] == f"{tmp_path / 'docs'}@v4"
    assert INPUT_PATH_TAG not in tags and table_tag("output") not in tags


def test_disabled_tracking_yields_no_run():
    with extract_run("anywhere", enabled=False) as run_id:
        assert run_id is None


def test_an_error_inside_fails_the_run(mlflow_uri):
    with pytest.raises(RuntimeError):
        with extract_run("o", experiment="extract-run-test") as run_id:
            raise RuntimeError("boom")
    assert MlflowClient(mlflow_uri).get_run(run_id).info.status == "FAILED"
