"""The pool scored and checked, however its NAGs are read: what the selection starts from.

Three ways, the first that applies (:func:`scored_and_checked`):

* the prefix scan (:mod:`.prefix_scan`): the Python workers read the files, keep the pool's
  statistics and histograms, and hand Spark only the rows a selection can reach;
* the direct scan (:mod:`.direct_scan`) with a quality blend, whose key needs the pool's
  bounds first: every scored row goes to Spark, which computes the statistics;
* Spark's reader (:func:`.scoring.score_frame`), where the table must be read by Spark.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ...logs import get_logger
from ..stages import persisted
from .direct_scan import DOCID_HASH, plan_direct_scan
from .pool import check_pool, confirm_distinct, pool_stats, pool_to_score, source_columns
from .prefix_scan import prefix_scan, usable
from .scoring import batch_scorer, score_files, score_frame

log = get_logger(__package__)  # the ranking job's one logger (nag_spark.spark.rank)


@dataclass(frozen=True, eq=False)
class ScoredPool:
    """Scored rows (``pool.columns`` and the distance columns), the pool's statistics
    (:func:`~.pool.pool_stats`' keys), and each target's first histogram where the scan
    computed them (None: the selection computes them from ``frame``)."""

    scan: str  # "direct" or "spark"
    frame: object
    stats: dict
    histograms: list | None


@contextlib.contextmanager
def scored_and_checked(spark, plan, opts, pool, profiles, keys, target):
    """The :class:`ScoredPool` of ``pool`` (from :func:`~.pool.pool_to_score`), kept
    (persisted) while the ``with`` block selects from it.

    Raises
    ------
    NagError
        The pool fails its checks (:func:`~.pool.check_pool`): nothing is selected.
    """
    scan = plan_direct_scan(opts.pool, plan.pool_version, opts.scan,
                            spark.sparkContext.defaultParallelism)
    if scan is not None:
        log.info("scanning pool %s@v%d in the Python workers: %d rows in %d files, %d tasks",
                 opts.pool, plan.pool_version, scan.rows, scan.files, len(scan.tasks))
    if scan is not None and usable(plan, opts):
        pre = prefix_scan(spark, scan, plan, opts,
                          batch_scorer(spark, profiles, opts.neuron_type, plan.top_k),
                          source_columns(plan, opts), keys, target.docids, opts.storage_level)
        try:
            stats = confirm_distinct(pre.stats, pool.df)
            check_pool(stats, pool.df, opts)  # error examples from Spark's reader
            frame = pool_to_score(plan, opts, target.counts, frame=pre.candidates, quiet=True,
                                  targets_dropped=True).df
            yield ScoredPool("direct", frame.select(*pool.columns, *keys), stats, pre.histograms)
        finally:
            pre.frame.unpersist()
        return
    if scan is None:
        frame = score_frame(pool.df, opts.neuron_type, profiles, keys, pool.columns,
                            stored_top_k=plan.top_k)
    else:
        raw = score_files(spark, scan, plan.pool_df.schema, opts.neuron_type, profiles, keys,
                          source_columns(plan, opts), stored_top_k=plan.top_k)
        frame = pool_to_score(plan, opts, target.counts, frame=raw, quiet=True).df
        frame = frame.select(*pool.columns, *keys, DOCID_HASH)
    with persisted(frame, opts.storage_level) as scored:
        stats = pool_stats(scored, keys, "quality" if opts.quality_col else None,
                           target.docids if plan.same_table else ())
        check_pool(stats, scored, opts)
        yield ScoredPool("spark" if scan is None else "direct", scored, stats, None)
