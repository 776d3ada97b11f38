"""The MLflow run of an extraction: what it records at the start and at the end.

The extraction itself (:mod:`nag_spark.spark.extract`) never talks to MLflow: it opens an
:func:`extract_run`, hands its plan and input here, and its result at the end. The objects
are taken duck-typed (any object with the attributes named below), so this module needs
nothing from the Spark layer.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from .runs import log_delta_table, log_metrics, log_params, set_tags, start_run
from .schema import INPUT_PATH_TAG, OUTPUT_PATH_TAG

KIND = "extract"


@contextlib.contextmanager
def extract_run(output: str, experiment: str | None = None, run_name: str | None = None,
                enabled: bool = True) -> Iterator[str | None]:
    """An MLflow run of kind ``extract`` writing ``output``; yields its run id.

    With ``enabled=False`` no run is started and ``None`` is yielded, so the caller's code
    is the same with and without tracking. An error inside ends the run as FAILED.
    """
    if not enabled:
        yield None
        return
    with start_run(KIND, experiment, run_name, tags={OUTPUT_PATH_TAG: output}) as run:
        yield run.info.run_id


def record_extract_start(plan, docs, table=None) -> None:
    """Log the run's parameters and its input.

    Parameters
    ----------
    plan : ExtractPlan
        Read: ``options`` (``format``, ``limit``), ``output``, ``lineage`` (``model``,
        ``model_digest``), ``neuron_types``, ``top_k``, ``max_length``, ``dtype``,
        ``device``, ``batch_tokens``, ``chunk_docs``.
    table : FeaturesTableState, optional
        Read: ``unit_rows``, ``pending``, ``created``.
    docs : InputDocs
        Read: ``path``, ``kind``, ``version``. A Delta input is logged as a dataset at the
        version read; any other input by its path (tag ``nag.input_path``).
    """
    log_params({
        "input": docs.path, "input_kind": docs.kind, "format": plan.options.format,
        "output": plan.output, "model": plan.lineage.model,
        "model_digest": plan.lineage.model_digest, "neuron_types": ",".join(plan.neuron_types),
        "top_k": plan.top_k, "max_length": plan.max_length, "dtype": plan.dtype,
        "device": plan.device, "batch_tokens": plan.batch_tokens, "chunk_docs": plan.chunk_docs,
        "limit": plan.options.limit, "dtype_reason": getattr(plan, "dtype_reason", ""),
    })
    if table is not None:
        log_params({"unit_rows": table.unit_rows, "units_pending": len(table.pending),
                    "table_created": table.created})
    if docs.kind == "delta":
        log_delta_table(docs.path, docs.version, "input")
    else:
        set_tags({INPUT_PATH_TAG: docs.path})


def record_extract_result(result) -> None:
    """Log the counts and rates of ``result`` (an ExtractResult) and the table written."""
    log_metrics({
        "docs_processed": result.docs_processed,
        "docs_already_present": result.docs_already_present,
        "docs_skipped_empty": result.docs_skipped_empty,
        "docs_skipped_no_tokens": result.docs_skipped_no_tokens,
        "tokens": result.tokens, "seconds": result.seconds, "docs_per_s": result.docs_per_s,
        "tokens_per_s": result.tokens_per_s, "busy_share": getattr(result, "busy_share", None),
        "units": getattr(result, "units", None),
        "units_committed_elsewhere": getattr(result, "units_elsewhere", None),
        "docs_invalid_utf8": getattr(result, "invalid_utf8", None),
    })
    if result.version is not None:
        log_delta_table(result.output, result.version, "output")


def record_progress(point) -> None:
    """One progress reading (a ProgressPoint: ``done``, ``rate``, ``eta``, ``elapsed``) as
    metric series, the same numbers as the job's progress lines."""
    log_metrics({"progress_docs": point.done, "progress_docs_per_s": point.rate,
                 "progress_eta_s": point.eta}, step=int(point.elapsed))
