"""The baseline selection's story: check, read, score, select, write, record.

The scoring differs per method (:data:`SCORERS`); everything after it is the ranking's own
machinery: the exact token-budget selection
(:func:`~nag_spark.spark.rank.selection.select_exact`), the Delta writer
(:func:`~nag_spark.delta.write_table`) and the composition read back from the written table.

Order key. A selection orders the pool by ``(nag_distance, docid)`` ascending, as ranking
does; for a baseline ``nag_distance = (max score - score) / (max score - min score)`` over
the pool (0 when every score is equal): 0 for the pool's best document, 1 for its worst,
a pure function of the document's score and two exact aggregates, so the order (and the
selection) is the same under any partitioning. The raw score is kept in ``score``.
"""
from __future__ import annotations

import time

from ...config import resolve_target
from ...errors import InputError, TableError
from ...kernels.selection import check_fraction, token_budget
from ...logs import get_logger
from ...tables.baseline_selection import BaselineSelectionProperties
from ...tables.features import KIND_KEY
from ...tables.selection import KIND as SELECTION_KIND
from ...tables.selection import selection_columns
from . import bm25, dsir, embedding, seeded_random
from .docs import read_selection_docs, same_table
from .options import METHODS, SelectOptions, SelectResult
from ..stages import persisted, timed
from .texts import SCORE

log = get_logger(__package__)

#: ``score_pool(pool_df, keep_cols, target_texts, opts) -> (scored frame, params)`` per method.
SCORERS = {"random": seeded_random.score_pool, "dsir": dsir.score_pool,
           "bm25": bm25.score_pool, "embedding": embedding.score_pool}
KEY = "nag_distance"


def output_columns(payload_cols=()) -> list[str]:
    """The selection table's columns: ranking's, ``score`` after ``nag_distance``, then
    ``target`` and the payload.

    >>> output_columns(["url"])
    ['docid', 'dataset', 'token_num', 'nag_distance', 'score', 'rank', 'cum_tokens', 'target', 'url']
    """
    cols = selection_columns(False)
    cols.insert(cols.index(KEY) + 1, SCORE)
    return cols + ["target", *payload_cols]


def check_options(opts: SelectOptions) -> None:
    """Refuse a bad option before any Spark job, naming it."""
    if opts.method not in METHODS:
        raise InputError(f"unknown method {opts.method!r}; use one of {', '.join(METHODS)}")
    check_fraction(opts.fraction)
    if not str(opts.target or "").strip():
        raise InputError("no target given: pass --target NAME or --target-filter COL=VALUE")
    if "," in opts.target and "=" not in opts.target:
        raise InputError(f"--target {opts.target!r}: a baseline selects for one target at a time")
    if opts.mode not in ("overwrite", "error"):
        raise InputError(f"--mode must be overwrite or error, got {opts.mode!r}")
    for name, low in (("dsir_ngrams", 1), ("dsir_buckets", 1), ("embedding_batch", 1)):
        if int(getattr(opts, name)) < low:
            raise InputError(f"--{name.replace('_', '-')} must be at least {low}, got {getattr(opts, name)}")
    if not (opts.bm25_k1 >= 0 and 0 <= opts.bm25_b <= 1):
        raise InputError(f"--bm25-k1 must be >= 0 and --bm25-b in [0, 1], got {opts.bm25_k1}, {opts.bm25_b}")


def _check_locations(spark, opts: SelectOptions) -> None:
    from ...delta import table_exists
    from ...delta.output_check import check_table_output
    from ...tracking.runs import check_tracking_store

    for option, path in (("--pool-docs", opts.pool_docs), ("--target-docs", opts.target_docs)):
        if same_table(opts.output, path):
            raise InputError(f"--output {opts.output} would overwrite {option}")
    exists = check_table_output(opts.output, inputs=[("--pool-docs", opts.pool_docs),
                                                     ("--target-docs", opts.target_docs)],
                                kind=SELECTION_KIND, kind_key=KIND_KEY)
    if opts.mode == "error" and (exists or table_exists(opts.output, spark)):
        raise TableError(f"output table {opts.output} exists (use --mode overwrite)")
    if opts.track:
        check_tracking_store()


def _stats(scored) -> dict:
    """One aggregation: the keys :func:`~nag_spark.spark.rank.pool.check_pool` reads, the
    score's bounds and its null/NaN count."""
    from pyspark.sql import functions as F

    s = F.col(SCORE)
    return scored.agg(
        F.count(F.lit(1)).alias("docs"), F.sum("token_num").alias("tokens"),
        F.count_distinct("docid").alias("distinct_ids"),
        F.sum(F.col("docid").isNull().cast("long")).alias("null_ids"),
        F.sum(F.col("token_num").isNull().cast("long")).alias("null_tokens"),
        F.sum((F.col("token_num") < 0).cast("long")).alias("negative_tokens"),
        F.min(F.when(~F.isnan(s), s)).alias("score_lo"), F.max(F.when(~F.isnan(s), s)).alias("score_hi"),
        F.sum((s.isNull() | F.isnan(s)).cast("long")).alias("bad_scores"),
    ).collect()[0].asDict()


def _properties(opts: SelectOptions, spec, params: dict, run_id, pool_version) -> dict[str, str]:
    """The selection's table properties, in the style of ranking's."""
    return BaselineSelectionProperties(
        opts.method, spec.name, spec.describe(), check_fraction(opts.fraction), run_id,
        str(opts.pool_docs), pool_version, str(opts.target_docs), params).to_properties()


def run_selection(spark, opts: SelectOptions) -> SelectResult:
    """Score the pool with a baseline and write its exact token-budget selection.

    Raises
    ------
    NagError
        Bad options or inputs (before any scoring), named precisely.
    """
    from pyspark.sql import functions as F

    from ...delta import write_table
    from ...tracking.select_run import record_select_result, record_select_start, select_run
    from ..rank.composition import selected_composition
    from ..rank.pool import check_pool
    from ..rank.selection import select_exact

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    check_options(opts)
    spec = resolve_target(opts.target.strip(), opts.targets_file)
    _check_locations(spark, opts)
    with timed(timings, "read"):
        docs = read_selection_docs(spark, spec, opts.pool_docs, opts.target_docs,
                                   opts.payload_cols, opts.token_model)
    keep = ["docid", "dataset", "token_num", *opts.payload_cols]
    with select_run(opts, spec.name, docs.pool.version, enabled=opts.track) as run_id:
        record_select_start(opts, spec, docs)
        with timed(timings, "score"):
            scored_frame, params = SCORERS[opts.method](docs.pool_df, keep, docs.target_texts, opts)
        with persisted(scored_frame, opts.storage_level) as scored:
            with timed(timings, "score"):
                stats = _stats(scored)
            check_pool(stats, scored, opts_view(opts))
            if stats["bad_scores"]:
                raise InputError(f"method {opts.method}: {stats['bad_scores']} documents got no finite score")
            lo, hi = float(stats["score_lo"]), float(stats["score_hi"])
            span = hi - lo
            key = (F.lit(hi) - F.col(SCORE)) / F.lit(span) if span > 0 else F.lit(0.0)
            frame = scored.withColumn(KEY, key)
            budget = token_budget(int(stats["tokens"]), opts.fraction)
            with timed(timings, "select"):
                sel = select_exact(frame, KEY, budget, 0.0, 1.0 if span > 0 else 0.0,
                                   n_bins=opts.n_bins, max_boundary_rows=opts.max_boundary_rows,
                                   rows_per_group=opts.rows_per_group)
            cols = output_columns(opts.payload_cols)
            out = sel.df.withColumn("target", F.lit(spec.name)).select(*cols)
            with timed(timings, "write"):
                version = write_table(out, opts.output, mode="overwrite",
                                      properties=_properties(opts, spec, params, run_id, docs.pool.version),
                                      commit_info={"job": "select", "method": opts.method,
                                                   "mlflow_run_id": run_id or "", "target": spec.name})
        tokens, n_docs = selected_composition(spark, opts.output, version, [spec.name])
        cut = sel.boundary.cutoff
        boundary = None if cut.keeps_all else hi - cut.key * span
        timings["total"] = time.perf_counter() - t0
        res = SelectResult(run_id, str(opts.output), version, opts.method, spec.name,
                           int(stats["docs"]), int(stats["tokens"]), len(docs.target_texts), budget,
                           n_docs[spec.name], int(sum(tokens[spec.name].values())), boundary,
                           docs.excluded_target_rows, docs.pool.skipped_empty, params, timings)
        record_select_result(res, sel.histogram, tokens[spec.name], sel.boundary)
    log.info("%s selection for %s: %d docs / %d tokens (budget %d) into %s@v%d", opts.method,
             spec.name, res.selected_docs, res.selected_tokens, budget, opts.output, version)
    return res


class opts_view:
    """The two attributes :func:`~nag_spark.spark.rank.pool.check_pool` reads of options."""

    def __init__(self, opts: SelectOptions):
        self.pool = opts.pool_docs
        self.quality_col = None
