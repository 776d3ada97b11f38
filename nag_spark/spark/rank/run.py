"""The ranking job's story: plan, profiles, scoring, selection, write, record."""
from __future__ import annotations

import contextlib
import time

from ...logs import get_logger
from ...tables.selection import SelectionProperties
from ...tracking.rank_run import rank_run, record_rank_output, record_rank_result, record_rank_start
from .composition import counted, selected_composition
from .multi_target import TargetSelections, select_all
from .options import RankOptions, RankResult
from .plan import RankingPlan, plan_ranking
from .pool import check_pool, pool_stats, pool_to_score
from .profiles import target_profiles
from .scoring import key_names, score_frame

log = get_logger(__package__)  # the ranking job's one logger (nag_spark.spark.rank)


@contextlib.contextmanager
def _timed(timings: dict[str, float], stage: str, since: float | None = None):
    start = time.perf_counter() if since is None else since
    yield
    timings[stage] = time.perf_counter() - start


@contextlib.contextmanager
def _persisted(df, storage_level: str):
    """``df`` kept at ``storage_level`` while the selection reads it several times."""
    from pyspark import StorageLevel

    df = df.persist(getattr(StorageLevel, storage_level))
    try:
        yield df
    finally:
        df.unpersist()


def _write_selection(chosen: TargetSelections, plan: RankingPlan, opts: RankOptions,
                     run_id: str) -> int:
    """Write the selection table (one commit: rows and properties); its new version."""
    from ...delta import write_table

    props = SelectionProperties(
        plan.names, plan.fraction, plan.layer_label, opts.power, opts.neuron_type,
        [o.profile_digest for o in chosen.outcomes], run_id, str(opts.pool), plan.pool_version,
        dedupe=opts.dedupe, quality_col=opts.quality_col, invert_quality=opts.invert_quality,
        pool_properties=plan.pool_props).to_properties()
    return write_table(chosen.frame, opts.output, mode="overwrite", properties=props,
                       commit_info={"job": "rank", "mlflow_run_id": run_id,
                                    "target": ",".join(plan.names)})


def run_ranking(spark, opts: RankOptions) -> RankResult:
    """Rank the pool against each target and write the selection table (see the package doc).

    Raises
    ------
    NagError
        Bad options or inputs (before any scoring), named precisely.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with _timed(timings, "profile"):
        plan = plan_ranking(spark, opts)
        profiles, n_target_rows, target_docids = target_profiles(plan, opts)
    pool = pool_to_score(plan, opts, n_target_rows)
    keys = key_names(len(profiles))
    with rank_run(plan.names, opts.pool, plan.pool_version, opts.experiment, opts.run_name) as run_id:
        record_rank_start(opts, plan)
        t = time.perf_counter()
        scored_frame = score_frame(pool.df, opts.neuron_type, profiles, keys, pool.columns)
        with _persisted(scored_frame, opts.storage_level) as scored:
            with _timed(timings, "score_and_stats", since=t):
                stats = pool_stats(scored, keys, "quality" if opts.quality_col else None,
                                   target_docids if plan.same_table else ())
                check_pool(stats, scored, opts)
            with _timed(timings, "select"):
                chosen = select_all(scored, plan, opts, keys, stats, profiles, n_target_rows)
            with _timed(timings, "write"):
                version = _write_selection(chosen, plan, opts, run_id)
        with _timed(timings, "report"):
            tokens, docs = selected_composition(spark, opts.output, version, plan.names)
        timings["total"] = time.perf_counter() - t0
        res = RankResult(run_id, str(opts.output), version, int(stats["docs"]), int(stats["tokens"]),
                         counted(chosen.outcomes, tokens, docs), timings, pool.excluded_target_rows)
        record_rank_result(res, profiles, [s.histogram for s in chosen.selections], tokens,
                           num_layers=plan.num_layers, quality=bool(opts.quality_col))
        record_rank_output(str(opts.output), version)
    log.info("selected %s into %s@v%d", ", ".join(f"{o.name}: {o.selected_docs} docs/"
             f"{o.selected_tokens} tokens" for o in res.targets), opts.output, version)
    return res
