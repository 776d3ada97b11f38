"""The driver side of an extraction: :func:`run_extraction`, documents in, features out."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ...logs import get_logger
from ...tables.features import features_schema
from ...tracking.extract_run import extract_run, record_extract_result, record_extract_start
from ..inputs import read_documents
from .options import ExtractOptions, ExtractResult
from .plan import ExtractPlan, plan_extraction
from .progress import ExtractProgress
from .worker import extract_batches
from .worker_config import WorkerConfig

# The package's logger: the job's log lines keep the name they always had.
log = get_logger("nag_spark.spark.extract")

# Rows per Spark task: large enough that length sorting inside it pays, small enough to
# spread a chunk over all task slots.
ROWS_PER_TASK = 2048


@dataclass
class ChunkTally:
    """What the chunks of one run added up to; ``version`` is the table's latest."""

    version: int | None = None
    processed: int = 0
    tokens: int = 0
    no_tokens: int = 0
    seconds: float = 0.0

    def add(self, new_version: int | None, rows: int, tokens: int, empty: int) -> None:
        if new_version is not None:
            self.version = new_version
        self.processed += rows - empty
        self.tokens += tokens
        self.no_tokens += empty


def run_extraction(spark, opts: ExtractOptions) -> ExtractResult:
    """Extract NAG features of ``opts.input`` into the Delta table ``opts.output``.

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

    Examples
    --------
    >>> res = run_extraction(spark, ExtractOptions(input="docs.parquet", output="/tmp/feats"))  # doctest: +SKIP
    >>> res.docs_processed, res.version                                                         # doctest: +SKIP
    (1000, 0)
    """
    sc = spark.sparkContext
    plan = plan_extraction(opts, dict(sc.getConf().getAll()), local_master=sc.master.startswith("local"))
    existing = _existing_output(spark, plan)
    docs = read_documents(spark, opts.input, opts.format, limit=opts.limit, carry=plan.carry)
    todo, n_todo = _still_to_do(docs, existing, plan.output)
    config = plan.worker_config(docs.columns)
    with extract_run(plan.output, opts.experiment, opts.run_name, enabled=opts.track) as run_id:
        if run_id is not None:
            record_extract_start(plan, docs)
        tally = _extract_chunks(spark, todo, n_todo, plan, config, run_id,
                                existing.version if existing is not None else None)
        todo.unpersist()
        if tally.no_tokens:
            log.warning("skipped %d documents with no token after tokenization (no NAG)", tally.no_tokens)
        result = ExtractResult(
            output=plan.output, version=tally.version, docs_processed=tally.processed,
            tokens=tally.tokens, seconds=tally.seconds, docs_already_present=docs.rows - n_todo,
            docs_skipped_empty=docs.skipped_empty, docs_skipped_no_tokens=tally.no_tokens,
            run_id=run_id, properties=plan.table_properties)
        log.info("extracted %d documents (%d tokens) in %.1fs: %.2f docs/s, %.0f tokens/s -> %s v%s",
                 result.docs_processed, result.tokens, result.seconds, result.docs_per_s,
                 result.tokens_per_s, result.output, result.version)
        if run_id is not None:
            record_extract_result(result)
    return result


def _existing_output(spark, plan: ExtractPlan):
    """A snapshot of the output table if it exists, after checking its lineage.

    One snapshot: its lineage is checked, its docids are skipped, and its version is the
    result's if nothing new is inserted.
    """
    from ...delta import read_snapshot, table_exists
    from ...delta.lineage import check_lineage

    if not table_exists(plan.output, spark):
        return None
    existing = read_snapshot(spark, plan.output)
    check_lineage(existing.properties, plan.append_properties, plan.output)
    return existing


def _still_to_do(docs, existing, output: str):
    """The input documents not yet in ``existing`` (persisted) and how many there are."""
    todo = docs.df
    if existing is not None:
        todo = todo.join(existing.df.select("docid"), on="docid", how="left_anti")
    todo = todo.persist()
    n_todo = todo.count() if existing is not None else docs.rows
    already = docs.rows - n_todo
    if already:
        log.info("resume: %d of %d documents already in %s; %d to do", already, docs.rows, output, n_todo)
    return todo, n_todo


def _chunk_partitions(parallelism: int, n_todo: int, n_chunks: int) -> int:
    """Tasks per chunk: ``ROWS_PER_TASK`` rows each, a multiple of the task slots.

    >>> _chunk_partitions(4, 100_000, 5)
    12
    """
    parts = max(parallelism, math.ceil(n_todo / n_chunks / ROWS_PER_TASK))
    return parallelism * math.ceil(parts / parallelism)


def _extract_chunks(spark, todo, n_todo: int, plan: ExtractPlan, config: WorkerConfig,
                    run_id: str | None, version: int | None) -> ChunkTally:
    """Extract ``todo`` chunk by chunk, committing each with ``insert_if_absent``.

    A run killed midway keeps every committed chunk, and a re-run completes the table with
    no duplicate.
    """
    from pyspark.sql import functions as F

    from ...delta import insert_if_absent

    carry_fields = [f for f in todo.schema.fields if f.name in config.carry]
    schema = features_schema(config.has_dataset, config.neuron_types, config.index_types, carry_fields)
    parallelism = spark.sparkContext.defaultParallelism
    n_chunks = math.ceil(n_todo / plan.chunk_docs)  # 0 when everything is already there
    acc = spark.sparkContext.accumulator(0)
    tally = ChunkTally(version=version)
    start = time.perf_counter()
    with ExtractProgress(n_todo, acc, plan.options.progress_seconds) as progress:
        for chunk in range(n_chunks):
            part = todo if n_chunks == 1 else todo.filter(
                F.pmod(F.xxhash64("docid"), F.lit(n_chunks)) == chunk)
            feats = part.repartition(_chunk_partitions(parallelism, n_todo, n_chunks)).mapInArrow(
                lambda it, _cfg=config, _acc=acc: extract_batches(it, _cfg, _acc), schema
            ).persist()
            stats = feats.agg(F.count(F.lit(1)).alias("n"),
                              F.sum("n_tokens").alias("tokens"),
                              F.sum((F.col("n_tokens") == 0).cast("long")).alias("empty")).collect()[0]
            new_version, inserted = insert_if_absent(
                feats.filter(F.col("n_tokens") > 0), plan.output, key="docid",
                properties=plan.table_properties if tally.version is None else plan.append_properties,
                commit_info={"job": "extract", "mlflow_run_id": run_id or "",
                             "chunk": f"{chunk + 1}/{n_chunks}"})
            feats.unpersist()
            tally.add(new_version, int(stats["n"] or 0), int(stats["tokens"] or 0), int(stats["empty"] or 0))
            log.info("chunk %d/%d committed: %d rows inserted (table version %s); %s",
                     chunk + 1, n_chunks, inserted, tally.version, progress.line())
    tally.seconds = time.perf_counter() - start
    return tally
