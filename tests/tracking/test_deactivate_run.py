"""The deactivate run: tags naming target and features, params, metrics, neurons.json."""
from __future__ import annotations

import json

import mlflow

from nag_spark.tracking.deactivate_run import log_deactivate_run


def test_log_deactivate_run(mlflow_uri, tmp_path):
    listing = {"target": "hellaswag", "layers": {"0": {"nag": [3], "nag_weight": [0.5], "random": [7]}}}
    run_id = log_deactivate_run(
        target="hellaswag", features="/tables/targets", features_version=4,
        params={"n_texts": 2, "share": ""}, effect={"base_loss": 2.5, "nag_off_loss": 3.0},
        timings={"total": 1.5}, neurons=listing, experiment="deactivate-run-test")
    run = mlflow.MlflowClient(mlflow_uri).get_run(run_id)
    assert run.info.run_name == "deactivate-hellaswag"
    tags = run.data.tags
    assert (tags["nag.kind"], tags["nag.target"]) == ("deactivate", "hellaswag")
    assert (tags["nag.features_path"], tags["nag.features_version"]) == ("/tables/targets", "4")
    assert tags["nag.table.target"] == "/tables/targets@v4"
    assert run.data.params == {"n_texts": "2", "share": ""}
    assert run.data.metrics == {"base_loss": 2.5, "nag_off_loss": 3.0, "seconds_total": 1.5}
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="neurons/neurons.json",
                                               dst_path=str(tmp_path))
    text = open(path).read()
    assert json.loads(text) == listing and text == json.dumps(listing, indent=1)
