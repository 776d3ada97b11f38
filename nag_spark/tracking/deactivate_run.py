"""Recording a neuron deactivation analysis as an MLflow run of kind ``deactivate``."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Mapping

from .runs import log_delta_table, log_file, log_metrics, log_params, start_run
from .schema import FEATURES_PATH_TAG, FEATURES_VERSION_TAG, NEURONS_DIR, TARGET_TAG

DEACTIVATE_KIND = "deactivate"


def log_deactivate_run(*, target: str, features: str, features_version: int,
                       params: Mapping[str, object], effect: Mapping[str, float],
                       timings: Mapping[str, float], neurons: Mapping,
                       experiment: str | None = None, run_name: str | None = None) -> str:
    """Log the analysis: its parameters, the effect and timings as metrics, the features
    table read (context ``target``) and the neuron lists as ``neurons/neurons.json``.

    Returns
    -------
    str
        The run id.
    """
    tags = {TARGET_TAG: target, FEATURES_PATH_TAG: str(features),
            FEATURES_VERSION_TAG: str(features_version)}
    with start_run(DEACTIVATE_KIND, experiment=experiment,
                   run_name=run_name or f"deactivate-{target}", tags=tags) as run:
        log_params(params)
        log_metrics(effect)
        log_metrics({f"seconds_{k}": v for k, v in timings.items()})
        log_delta_table(str(features), features_version, "target", name="target_features")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "neurons.json")
            with open(path, "w") as fh:
                json.dump(neurons, fh, indent=1)
            log_file(path, NEURONS_DIR)
        return run.info.run_id
