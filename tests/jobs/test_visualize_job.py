"""jobs/visualize.py end to end on real SmolLM2 features: the map, its points, its MLflow run."""
from __future__ import annotations

import mlflow
import pandas as pd

from conftest import run_job


def test_visualize_job_on_real_features(smollm2_features, tmp_path, mlflow_uri):
    out = tmp_path / "viz"
    proc = run_job(["jobs/visualize.py", "--pool", smollm2_features["pool"],
                    "--targets", smollm2_features["targets"], "--per-dataset", "20",
                    "--max-points", "240", "--method", "pca", "--output", str(out),
                    "--experiment", "viz-job"])
    assert "NAG map (pca" in proc.stdout
    points = pd.read_csv(out / "nag_map_points.csv")
    assert 0 < len(points) <= 240 and points.is_target.any() and (~points.is_target).any()
    assert (out / "nag_map.png").is_file()
    run = mlflow.MlflowClient(mlflow_uri).search_runs(
        [mlflow.MlflowClient(mlflow_uri).get_experiment_by_name("viz-job").experiment_id])[0]
    assert run.data.tags["nag.kind"] == "visualize" and run.data.params["num_layers"] == "30"


def test_visualize_job_refuses_targets_of_another_model(spark, smollm2_features, tmp_path):
    from nag_spark.delta import read_table, table_properties, write_table

    props = table_properties(smollm2_features["targets"], spark)
    props.update({"nag.model": "another-model", "nag.model_digest": "sha256:other"})
    other = str(tmp_path / "other_targets")
    write_table(read_table(spark, smollm2_features["targets"]).limit(20), other, mode="overwrite",
                properties=props)
    proc = run_job(["jobs/visualize.py", "--pool", smollm2_features["pool"], "--targets", other,
                    "--method", "pca", "--output", str(tmp_path / "viz"), "--no-mlflow"],
                   check=False)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: pool features") and "nag.model='another-model'" in last
    assert not (tmp_path / "viz" / "nag_map.png").exists()
