"""The compare run: tag with the compared ids, pairwise metrics, the report folder."""
from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from nag_spark.tracking.compare.rank_runs import RankRun
from nag_spark.tracking.compare.record import log_compare_run, pair_metrics
from nag_spark.tracking.compare.report import ComparisonReport


def _report() -> ComparisonReport:
    labels = ["a", "b", "c"]
    runs = [RankRun(f"id-{x}", x, x, "e", {}, {}, {}, "/t", 0) for x in labels]
    jd = pd.DataFrame(np.array([[1, .5, .2], [.5, 1, .1], [.2, .1, 1]]), index=labels, columns=labels)
    empty = pd.DataFrame()
    return ComparisonReport(runs, empty, empty, empty, jd, jd / 2, empty)


def test_pair_metrics():
    m = pair_metrics(_report())
    assert m == {"jaccard_docids_0_1": .5, "jaccard_tokens_0_1": .25, "jaccard_docids_0_2": .2,
                 "jaccard_tokens_0_2": .1, "jaccard_docids_1_2": .1, "jaccard_tokens_1_2": .05}


def test_log_compare_run(mlflow_uri, tmp_path):
    (tmp_path / "report.html").write_text("<html></html>")
    run_id = log_compare_run(_report(), tmp_path, "record-test")
    client = mlflow.MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert run.data.tags["nag.kind"] == "compare"
    assert run.data.tags["nag.compared_runs"] == "id-a,id-b,id-c"
    assert run.data.params == {"n_runs": "3", "runs": "a,b,c"}
    assert run.data.metrics["jaccard_docids_1_2"] == 0.1
    assert {a.path for a in client.list_artifacts(run_id, "compare")} == {"compare/report.html"}
