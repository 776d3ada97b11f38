"""The ranking job's story: plan, profiles (with the pool's neuron counts for a contrastive
weighting), scoring, selection, write, record."""
from __future__ import annotations

import time

from ...kernels.profile import needs_pool
from ...logs import get_logger
from ...tables.selection import SelectionProperties
from ...tracking.profile_figures import profile_figures
from ...tracking.rank_run import rank_run, record_rank_output, record_rank_result, record_rank_start
from .composition import counted, selected_composition
from .multi_target import TargetSelections, select_all
from .options import RankOptions, RankResult
from .plan import RankingPlan, plan_ranking
from .pool import pool_to_score
from .scored_pool import scored_and_checked
from .pool_frequencies import pool_frequencies
from ..stages import timed
from .profiles import build_profiles, target_nags
from .scoring import key_names
from .selection import NARROW_ROWS_CONF

log = get_logger(__package__)  # the ranking job's one logger (nag_spark.spark.rank)


def _write_selection(chosen: TargetSelections, plan: RankingPlan, opts: RankOptions,
                     run_id: str) -> int:
    """Write the selection table (one commit: rows and properties); its new version."""
    from ...delta import write_table
    from ...session import session_conf

    props = SelectionProperties(
        plan.names, plan.fraction, plan.layer_label, opts.power, opts.neuron_type,
        [o.profile_digest for o in chosen.outcomes], run_id, str(opts.pool), plan.pool_version,
        dedupe=opts.dedupe, quality_col=opts.quality_col, invert_quality=opts.invert_quality,
        pool_properties=plan.pool_props, profile_weighting=opts.profile_weighting,
        score_top_k=plan.used_top_k).to_properties()
    narrow = {} if opts.payload_cols else NARROW_ROWS_CONF
    with session_conf(chosen.frame.sparkSession, narrow):  # the ranked rows go through Python
        return write_table(chosen.frame, opts.output, mode="overwrite", properties=props,
                           commit_info={"job": "rank", "mlflow_run_id": run_id,
                                        "target": ",".join(plan.names)})


def _note_empty_layers(plan: RankingPlan, profiles) -> None:
    """Say which scored layers a contrastive weighting left without weight."""
    for name, p in zip(plan.names, profiles):
        empty = [l for l in p.layers if not p.weights[l].any()]
        if empty:
            log.info("%s: %d of %d scored layers have no neuron more frequent in the target than "
                     "in the pool (zero weight): %s", name, len(empty), len(p.layers),
                     ",".join(map(str, empty)))


def run_ranking(spark, opts: RankOptions) -> RankResult:
    """Rank the pool against each target and write the selection table (see the package doc).

    Raises
    ------
    NagError
        Bad options or inputs (before any scoring), named precisely.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with timed(timings, "profile"):
        plan = plan_ranking(spark, opts)
        target = target_nags(plan, opts)
        n_target_rows = target.counts
    pool = pool_to_score(plan, opts, n_target_rows)
    frequencies = None
    if needs_pool(opts.profile_weighting):
        with timed(timings, "pool_frequencies"):
            frequencies = pool_frequencies(pool.df, opts.neuron_type, plan.num_layers,
                                           plan.top_k, plan.used_top_k, plan.n_neurons,
                                           plan.layers)
        log.info("%s profile: neuron counts of %d pool documents over the first %d indices "
                 "of %d layers in %.1f s", opts.profile_weighting, frequencies.n_docs,
                 plan.used_top_k, len(plan.layers), timings["pool_frequencies"])
    t = time.perf_counter()
    profiles = build_profiles(plan, opts, target, frequencies)
    timings["profile"] += time.perf_counter() - t  # the pool counts are timed on their own
    if frequencies is not None:
        _note_empty_layers(plan, profiles)
    keys = key_names(len(profiles))
    # The profiles' heatmaps are drawn on a driver thread while Spark scans the pool.
    with profile_figures(plan.names, profiles, plan.num_layers) as figures, \
            rank_run(plan.names, opts.pool, plan.pool_version, opts.experiment, opts.run_name) as run_id:
        record_rank_start(opts, plan)
        t = time.perf_counter()
        with scored_and_checked(spark, plan, opts, pool, profiles, keys, target) as scored:
            timings["score_and_stats"] = time.perf_counter() - t
            stats, scan = scored.stats, scored.scan
            with timed(timings, "select"):
                chosen = select_all(scored.frame, plan, opts, keys, stats, profiles,
                                    n_target_rows, histograms=scored.histograms)
            with timed(timings, "write"):
                version = _write_selection(chosen, plan, opts, run_id)
        with timed(timings, "report"):
            tokens, docs = selected_composition(spark, opts.output, version, plan.names)
        timings["total"] = time.perf_counter() - t0
        res = RankResult(run_id, str(opts.output), version, int(stats["docs"]), int(stats["tokens"]),
                         counted(chosen.outcomes, tokens, docs), timings, pool.excluded_target_rows,
                         scan=scan)
        record_rank_result(res, profiles, [s.histogram for s in chosen.selections], tokens,
                           num_layers=plan.num_layers, quality=bool(opts.quality_col),
                           pool_frequencies=frequencies, figures=figures)
        record_rank_output(str(opts.output), version)
    log.info("selected %s into %s@v%d", ", ".join(f"{o.name}: {o.selected_docs} docs/"
             f"{o.selected_tokens} tokens" for o in res.targets), opts.output, version)
    return res
