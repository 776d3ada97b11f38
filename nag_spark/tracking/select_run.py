"""The MLflow run of a baseline selection (``jobs/select.py``): kind ``select``.

Mirrors the ranking run (:mod:`.rank_run`): the same tags (pool, target, output table),
parameters (target, filter, fraction, input paths, the method's own settings), metrics
(pool and selection sizes, budget, boundary, key quantiles, stage timings) and the
composition artifact, so a selection of any kind reads the same way. Objects are taken
duck-typed; nothing here imports the Spark layer.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

from .rank_run import QUANTILES
from .runs import log_delta_table, log_file, log_json, log_metrics, log_params, set_tags, start_run
from .schema import (COMPOSITION_ARTIFACT, HIST_ARTIFACT, METHOD_TAG, OUTPUT_PATH_TAG,
                     OUTPUT_VERSION_TAG, PLOTS_DIR, POOL_PATH_TAG, POOL_VERSION_TAG, TARGET_TAG,
                     table_tag)

KIND = "select"


@contextlib.contextmanager
def select_run(opts, target: str, pool_version: int | None, enabled: bool = True) -> Iterator[str | None]:
    """An MLflow run of kind ``select``; yields its run id (``None`` when not ``enabled``).

    ``opts`` is a SelectOptions (read: ``method``, ``pool_docs``, ``experiment``,
    ``run_name``). The run name defaults to ``select-<method>-<target>``.
    """
    if not enabled:
        yield None
        return
    tags = {POOL_PATH_TAG: str(opts.pool_docs), TARGET_TAG: target, METHOD_TAG: opts.method}
    if pool_version is not None:
        tags[POOL_VERSION_TAG] = str(pool_version)
    with start_run(KIND, experiment=opts.experiment,
                   run_name=opts.run_name or f"select-{opts.method}-{target}", tags=tags) as run:
        yield run.info.run_id


def _active() -> bool:
    import mlflow

    return mlflow.active_run() is not None


def record_select_start(opts, spec, docs) -> None:
    """Log the parameters and the input tables (Delta inputs as run datasets).

    ``spec`` is the TargetSpec; ``docs`` the SelectionDocs (read: ``pool``, ``targets``
    with ``path``, ``kind``, ``version``; ``counted_tokens``).
    """
    if not _active():
        return
    log_params({"method": opts.method, "target": spec.name, "target_filters": spec.describe(),
                "fraction": opts.fraction, "seed": opts.seed, "pool_path": str(opts.pool_docs),
                "target_docs_path": str(opts.target_docs), "n_bins": opts.n_bins,
                "token_num_counted": docs.counted_tokens,
                **({"token_model": opts.token_model} if docs.counted_tokens else {})})
    for info, context in ((docs.pool, "input"), (docs.targets, "target")):
        if context == "target" and info is docs.pool:
            continue
        if info.kind == "delta":
            log_delta_table(str(info.path), info.version, context, name=context)
        else:
            set_tags({table_tag(context): str(info.path)})


def select_metrics(result, histogram) -> dict:
    """Pool and selection sizes, budget, boundary, key quantiles and timings of a result."""
    metrics = {"pool_docs": result.pool_docs, "pool_tokens": result.pool_tokens,
               "pool_excluded_target_docs": result.excluded_target_rows,
               "pool_skipped_empty_docs": result.skipped_empty, "target_docs": result.target_docs,
               "budget_tokens": result.budget, "selected_docs": result.selected_docs,
               "selected_tokens": result.selected_tokens, "boundary_score": result.boundary_score}
    for q, v in histogram.quantiles(QUANTILES).items():
        metrics[f"distance_q{int(round(q * 100)):02d}"] = v
    metrics.update({f"time_{k}_s": v for k, v in result.timings.items()})
    return metrics


def record_select_result(result, histogram, selected: dict, boundary) -> None:
    """Log the method's fitted numbers, the metrics, the key histogram, the composition
    (JSON and plot) and the output table of a finished selection.

    ``histogram`` is the FirstHistogram of the order key, ``selected`` the selected tokens
    per dataset, ``boundary`` the selection's BoundaryResult (read: ``boundary_rows``,
    ``rounds``).
    """
    if not _active():
        return
    from ..plots import plot_composition

    log_params({k: v for k, v in result.method_params.items() if k != "seed"})
    metrics = select_metrics(result, histogram)
    metrics.update({"boundary_rows": boundary.boundary_rows, "refinement_rounds": boundary.rounds})
    log_metrics(metrics)
    hist = histogram.display()
    log_json({"edges": hist["edges"], "counts": hist["counts"], "key": "nag_distance",
              "boundary": {result.target: result.boundary_score}}, HIST_ARTIFACT)
    composition = {"pool": {k: int(v) for k, v in histogram.tokens_by_dataset.items()},
                   "selected": {result.target: selected}}
    log_json(composition, COMPOSITION_ARTIFACT)
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "composition.png"
        plot_composition(composition["pool"], composition["selected"], png)
        log_file(png, PLOTS_DIR)
    log_delta_table(str(result.output_path), result.output_version, "output", name="selection")
    set_tags({OUTPUT_PATH_TAG: str(result.output_path), OUTPUT_VERSION_TAG: str(result.output_version)})
