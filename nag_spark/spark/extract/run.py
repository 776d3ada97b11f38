"""The driver side of an extraction: :func:`run_extraction`, documents in, features out."""
from __future__ import annotations

import time

from ...logs import get_logger
from ...tracking.extract_run import (extract_run, record_extract_result, record_extract_start,
                                     record_progress)
from ..inputs import read_documents
from .gpu_stage import task_slots
from .job_runner import run_units
from .options import ExtractOptions, ExtractResult
from .plan import plan_extraction
from .table_state import open_features_table, skip_present_docids

# The package's logger: the job's log lines keep the name they always had.
log = get_logger("nag_spark.spark.extract")


def run_extraction(spark, opts: ExtractOptions) -> ExtractResult:
    """Extract NAG features of ``opts.input`` into the Delta table ``opts.output``.

    One pass over the input: each work unit (a slice of an input file,
    :mod:`.units`) runs as one Spark task and is committed exactly once, with its Delta
    transaction identifier, as soon as it is done. A re-run after a crash skips every
    committed unit with one look at the table and redoes only the work that was in flight.

    Parameters
    ----------
    spark : SparkSession
    opts : ExtractOptions

    Returns
    -------
    ExtractResult

    Raises
    ------
    InputError, ConfigError, LineageMismatchError
        Bad options or input, unknown model, or an output table of another lineage;
        raised before any model work, so nothing in the table is touched.
    TableError
        Another job committed docids of this input while this one ran (nothing committed
        is lost; a re-run finishes the rest).

    Examples
    --------
    >>> res = run_extraction(spark, ExtractOptions(input="docs.parquet", output="/tmp/feats"))  # doctest: +SKIP
    >>> res.docs_processed, res.version                                                         # doctest: +SKIP
    (1000, 3)
    """
    sc = spark.sparkContext
    plan = plan_extraction(opts, dict(sc.getConf().getAll()), local_master=sc.master.startswith("local"))
    docs = read_documents(spark, opts.input, opts.format, carry=plan.carry, check_text=False)
    table = open_features_table(spark, plan, docs, slots=task_slots(sc))
    skip = skip_present_docids(spark, table, docs)
    config = plan.worker_config(docs.columns, table.output_schema, docs.raw_schema)
    start = time.perf_counter()
    with extract_run(plan.output, opts.experiment, opts.run_name, enabled=opts.track) as run_id:
        if run_id is not None:
            record_extract_start(plan, docs, table)
        outcome = run_units(spark, plan, table, config, skip, run_id,
                            record=record_progress if run_id is not None else None)
        t = outcome.tally
        result = ExtractResult(
            output=plan.output, version=t.version, docs_processed=t.docs, tokens=t.tokens,
            seconds=time.perf_counter() - start, docs_already_present=table.rows_committed + t.present,
            docs_skipped_empty=t.empty, docs_skipped_no_tokens=t.no_tokens, run_id=run_id,
            properties=table.properties, units=len(table.pending), units_elsewhere=t.units_elsewhere,
            invalid_utf8=t.bad_utf8, busy_share=outcome.busy_share, dtype_reason=plan.dtype_reason)
        _log_summary(result)
        if run_id is not None:
            record_extract_result(result)
    return result


def _log_summary(result: ExtractResult) -> None:
    if result.docs_skipped_no_tokens:
        log.warning("skipped %d documents with no token after tokenization (no NAG)",
                    result.docs_skipped_no_tokens)
    if result.docs_skipped_empty:
        log.warning("skipped %d documents with null or empty text (no NAG)", result.docs_skipped_empty)
    if result.invalid_utf8:
        log.warning("%d documents had invalid UTF-8; the bad bytes were replaced by U+FFFD",
                    result.invalid_utf8)
    log.info("extracted %d documents (%d tokens) in %.1fs: %.2f docs/s, %.0f tokens/s, task slots "
             "busy %.1f%% -> %s v%s", result.docs_processed, result.tokens, result.seconds,
             result.docs_per_s, result.tokens_per_s, 100 * result.busy_share, result.output,
             result.version)
