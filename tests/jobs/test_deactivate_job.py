"""``jobs/deactivate.py`` end to end on real SmolLM2 features: table, MLflow run, errors.

The successful run calls the job's ``main`` in this process: the job's ``get_spark`` picks
up the suite's active session, which saves a Spark start (the job is the same code either
way); the error test runs it as a real subprocess to check the exit status.
"""
from __future__ import annotations

import importlib.util
import json
import re

from conftest import REPO, run_job


def _job_module():
    spec = importlib.util.spec_from_file_location("deactivate_job", REPO / "jobs" / "deactivate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_on_smollm2_features(spark, smollm2_features, shared_data, mlflow_uri, tmp_path,
                                 capsys):
    import mlflow

    rc = _job_module().main(["--target", "hellaswag", "--features", smollm2_features["targets"],
                             "--docs", str(shared_data / "targets.parquet"), "--n-texts", "4",
                             "--max-length", "24", "--per-layer", "3",
                             "--experiment", "deactivate-test"])
    out = capsys.readouterr().out
    assert rc == 0
    print(out)
    assert "90 of 46080 up_proj neurons off (0.195%) in 30 layers" in out
    for label in ("all neurons on", "NAG neurons off", "random neurons off"):
        assert label in out
    run_id = re.search(r"mlflow run (\w+)", out).group(1)

    mlflow.set_tracking_uri(mlflow_uri)
    run = mlflow.get_run(run_id)
    assert run.data.tags["nag.kind"] == "deactivate"
    assert run.data.tags["nag.target"] == "hellaswag"
    assert run.data.params["model"] == "smollm2-135m"
    assert run.data.params["per_layer"] == "3"
    m = run.data.metrics
    assert m["n_neurons_off"] == 90 and m["n_texts"] == 4
    assert f"{m['base_loss']:.4f}" in out and f"{m['nag_off_loss']:.4f}" in out
    listing = json.loads(open(mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="neurons/neurons.json", dst_path=str(tmp_path))).read())
    assert sorted(listing["layers"], key=int) == [str(l) for l in range(30)]
    layer0 = listing["layers"]["0"]
    assert len(layer0["nag"]) == len(layer0["random"]) == 3
    assert layer0["nag_weight"] == sorted(layer0["nag_weight"], reverse=True)
    assert len(listing["docids"]) == 4


def test_cli_errors_exit_2():
    proc = run_job(["jobs/deactivate.py", "--target", "nope", "--features", "x", "--docs", "y"],
                   check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown target 'nope'")
