"""Recording a NAG map as an MLflow run of kind ``visualize``."""
from __future__ import annotations

import os
from typing import Iterable, Mapping

from .runs import log_delta_table, log_file, log_params, start_run
from .schema import PLOTS_DIR, STATS_DIR

VISUALIZE_KIND = "visualize"


def log_visualize_run(params: Mapping[str, object], figure: str | os.PathLike,
                      points_csv: str | os.PathLike,
                      inputs: Iterable[tuple[str | None, int | None, str]],
                      experiment: str | None = None, run_name: str | None = None) -> str:
    """Log the map's parameters, its input tables, the figure (under ``plots/``) and the
    points CSV (under ``stats/``); returns the run id.

    ``inputs`` holds ``(path, version, context)`` of each features table read; a ``None``
    path (a DataFrame passed in) is left out.
    """
    with start_run(VISUALIZE_KIND, experiment=experiment, run_name=run_name) as run:
        log_params(params)
        for path, version, context in inputs:
            if path is not None:
                log_delta_table(path, version, context)
        log_file(figure, PLOTS_DIR)
        log_file(points_csv, STATS_DIR)
        return run.info.run_id
