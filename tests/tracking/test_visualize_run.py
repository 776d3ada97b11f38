"""The visualize run: parameters, input tables, the figure under plots/, the points under stats/."""
from __future__ import annotations

import mlflow

from nag_spark.tracking.visualize_run import log_visualize_run


def test_log_visualize_run(mlflow_uri, tmp_path):
    (tmp_path / "nag_map.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "nag_map_points.csv").write_text("docid,x,y\n")
    run_id = log_visualize_run({"method": "pca", "num_layers": 4}, tmp_path / "nag_map.png",
                               tmp_path / "nag_map_points.csv",
                               [("/tables/pool", 3, "input"), (None, None, "target")],
                               experiment="viz-run-test", run_name="m")
    client = mlflow.MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert run.data.tags["nag.kind"] == "visualize" and run.info.run_name == "m"
    assert run.data.params == {"method": "pca", "num_layers": "4"}
    assert run.data.tags["nag.table.input"] == "/tables/pool@v3"
    assert "nag.table.target" not in run.data.tags  # a DataFrame input is not a table
    arts = {a.path for d in ("plots", "stats") for a in client.list_artifacts(run_id, d)}
    assert arts == {"plots/nag_map.png", "stats/nag_map_points.csv"}
