"""Recording a comparison as an MLflow run of kind ``compare``."""
from __future__ import annotations

import os

from ..runs import log_folder, log_metrics, log_params, start_run
from ..schema import COMPARE_DIR, COMPARED_RUNS_TAG

COMPARE_KIND = "compare"


def pair_metrics(report) -> dict[str, float]:
    """Pairwise Jaccard as metrics ``jaccard_{docids,tokens}_<i>_<j>`` (``i < j``).

    Metric keys allow only a few characters; run indices keep them valid and short.
    """
    metrics = {}
    n = len(report.runs)
    for i in range(n):
        for j in range(i + 1, n):
            metrics[f"jaccard_docids_{i}_{j}"] = float(report.jaccard_docids.iat[i, j])
            metrics[f"jaccard_tokens_{i}_{j}"] = float(report.jaccard_tokens.iat[i, j])
    return metrics


def log_compare_run(report, out: str | os.PathLike, experiment: str) -> str:
    """Log ``report`` (and every file in ``out``, under ``compare/``) to a new run of
    ``experiment`` tagged with the compared run ids; returns the run id."""
    ids = [r.run_id for r in report.runs]
    tags = {COMPARED_RUNS_TAG: ",".join(ids)}
    with start_run(COMPARE_KIND, experiment=experiment,
                   run_name=f"compare {len(ids)} runs", tags=tags) as run:
        log_params({"n_runs": len(ids), "runs": ",".join(r.label for r in report.runs)})
        log_metrics(pair_metrics(report))
        log_folder(out, COMPARE_DIR)
        return run.info.run_id
