"""The MLflow run of a ranking: what it records at the start and at the end.

The ranking itself (:mod:`nag_spark.spark.rank`) never talks to MLflow: it opens a
:func:`rank_run`, hands its options and plan here, and its result at the end. The objects
are taken duck-typed (any object with the attributes named below), so this module needs
nothing from the Spark layer; the histograms are
:class:`~nag_spark.kernels.selection.FirstHistogram` objects and the profiles
:class:`~nag_spark.kernels.profile.TargetProfile` objects, both pure.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from ..tables.features import PREFIX
from .profile_figures import ProfileFigures, draw_profiles
from .runs import log_delta_table, log_file, log_json, log_metrics, log_params, set_tags, start_run
from .schema import (COMPOSITION_ARTIFACT, HIST_ARTIFACT, OUTPUT_PATH_TAG, OUTPUT_VERSION_TAG,
                     PLOTS_DIR, POOL_PATH_TAG, POOL_VERSION_TAG, PROFILE_DIR, TARGET_TAG,
                     target_key_parts)

KIND = "rank"
# Key quantiles of each target's histogram logged as metrics (``distance_q05``, ...).
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@contextlib.contextmanager
def rank_run(targets: Sequence[str], pool: str, pool_version: int, experiment: str | None = None,
             run_name: str | None = None) -> Iterator[str]:
    """An MLflow run of kind ``rank`` over ``pool`` at ``pool_version``; yields its run id.

    The run name defaults to ``rank-<target>+<target>``. An error inside ends the run as
    FAILED.
    """
    tags = {POOL_PATH_TAG: str(pool), POOL_VERSION_TAG: str(pool_version),
            TARGET_TAG: ",".join(targets)}
    with start_run(KIND, experiment=experiment,
                   run_name=run_name or f"rank-{'+'.join(targets)}", tags=tags) as run:
        yield run.info.run_id


def record_rank_start(opts, plan) -> None:
    """Log the run's parameters (with the pool's model lineage) and its input tables.

    Parameters
    ----------
    opts : RankOptions
        Read: ``power``, ``profile_weighting``, ``neuron_type``, ``quality_col``,
        ``invert_quality``, ``dedupe``, ``pool``, ``n_bins``.
    plan : RankingPlan
        Read: ``names``, ``specs`` (``describe()``), ``fraction``, ``per_fraction``,
        ``layer_label``, ``used_top_k``, ``target_path``, ``model_lineage``, ``pool_version``,
        ``target_version``, ``same_table`` (the target table is logged only when it is not
        the pool).
    """
    params = {"target": ",".join(plan.names),
              "target_filters": "; ".join(s.describe() for s in plan.specs),
              "fraction": plan.fraction, "fraction_per_target": plan.per_fraction,
              "layers": plan.layer_label, "power": opts.power, "neuron_type": opts.neuron_type,
              # The profile levers; "score_top_k", not "top_k": that is the features' K.
              "profile_weighting": opts.profile_weighting, "score_top_k": plan.used_top_k,
              "quality_col": opts.quality_col or "", "invert_quality": opts.invert_quality,
              "dedupe": opts.dedupe, "pool_path": str(opts.pool),
              "target_features_path": str(plan.target_path), "n_bins": opts.n_bins,
              "scan": opts.scan}
    params.update({k[len(PREFIX):]: v for k, v in plan.model_lineage.items()})
    log_params(params)
    log_delta_table(str(opts.pool), plan.pool_version, "input", name="pool")
    if not plan.same_table:
        log_delta_table(str(plan.target_path), plan.target_version, "target", name="target")


def rank_metrics(result, histograms: Sequence) -> dict[str, float | None]:
    """The run's metrics: pool and selection sizes, per-target boundary numbers and key
    quantiles (suffixed ``.<target>`` when there are several targets), stage timings.

    ``result`` is a RankResult (read: ``pool_docs``, ``pool_tokens``,
    ``excluded_target_rows``, ``targets``, ``timings``); ``histograms`` one per target.
    """
    multi = len(result.targets) > 1
    suffixes = target_key_parts([o.name for o in result.targets])
    metrics = {"pool_docs": result.pool_docs, "pool_tokens": result.pool_tokens,
               "pool_excluded_target_docs": result.excluded_target_rows,
               "selected_docs": sum(o.selected_docs for o in result.targets),
               "selected_tokens": sum(o.selected_tokens for o in result.targets)}
    for o, hist, part in zip(result.targets, histograms, suffixes):
        sfx = f".{part}" if multi else ""
        metrics.update({f"target_docs{sfx}": o.n_target_rows, f"budget_tokens{sfx}": o.budget,
                        f"boundary{sfx}": o.boundary, f"boundary_rows{sfx}": o.boundary_rows,
                        f"refinement_rounds{sfx}": o.refinement_rounds})
        if multi:
            metrics.update({f"selected_docs{sfx}": o.selected_docs,
                            f"selected_tokens{sfx}": o.selected_tokens})
        for q, v in hist.quantiles(QUANTILES).items():
            metrics[f"distance_q{int(round(q * 100)):02d}{sfx}"] = v
    metrics.update({f"time_{k}_s": v for k, v in result.timings.items()})
    return metrics


def distance_histogram(outcomes: Sequence, histograms: Sequence, key: str) -> dict:
    """``stats/distance_hist.json``: the first target's histogram of the whole pool, every
    target's boundary, and each target's own histogram (``by_target``) when there are
    several."""
    first = histograms[0].display()
    hist = {"edges": first["edges"], "counts": first["counts"], "key": key,
            "boundary": {o.name: o.boundary for o in outcomes}}
    if len(outcomes) > 1:
        hist["by_target"] = {o.name: h.display() for o, h in zip(outcomes, histograms)}
    return hist


def record_rank_result(result, profiles: Sequence, histograms: Sequence, selected: dict, *,
                       num_layers: int, quality: bool, pool_frequencies=None,
                       figures: ProfileFigures | None = None) -> None:
    """Log the metrics, the profiles and their heatmaps, the distance histogram and the
    composition (JSON and plots) of a finished ranking.

    Parameters
    ----------
    result : RankResult
        As in :func:`rank_metrics`.
    profiles, histograms : sequence
        One TargetProfile and one FirstHistogram per target, in target order.
    selected : dict
        Selected tokens per target and dataset.
    num_layers : int
        L of the features (heatmap titles).
    quality : bool
        Whether the key is the quality blend (``combined_score``) rather than the distance.
    pool_frequencies : PoolFrequencies, optional
        The pool's neuron counts of a contrastive weighting: their row count is logged
        (``pool_frequency_docs``) and the counts saved as ``profile/pool_counts.npz``.
    figures : ProfileFigures, optional
        The profiles' files, drawn while the pool was scanned
        (:func:`~nag_spark.tracking.profile_figures.profile_figures`); drawn here if None.
    """
    from ..plots import plot_composition, plot_distance_histogram

    metrics = rank_metrics(result, histograms)
    log_params({"scan_used": result.scan})  # what --scan auto chose
    if pool_frequencies is not None:
        metrics["pool_frequency_docs"] = pool_frequencies.n_docs
    log_metrics(metrics)
    hist = distance_histogram(result.targets, histograms,
                              "combined_score" if quality else "nag_distance")
    composition = {"pool": {k: int(v) for k, v in histograms[0].tokens_by_dataset.items()},
                   "selected": selected}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = figures.files() if figures is not None else draw_profiles(
            [o.name for o in result.targets], profiles, num_layers, tmp)
        for npz, png in files:
            log_file(npz, PROFILE_DIR)
            log_file(png, PLOTS_DIR)
        if pool_frequencies is not None:
            import numpy as np

            with open(tmp / "pool_counts.npz", "wb") as fh:
                np.savez_compressed(fh, counts=pool_frequencies.counts,
                                    n_docs=np.int64(pool_frequencies.n_docs),
                                    top_k=np.int64(pool_frequencies.top_k))
            log_file(tmp / "pool_counts.npz", PROFILE_DIR)
        log_json(hist, HIST_ARTIFACT)
        log_json(composition, COMPOSITION_ARTIFACT)
        plot_distance_histogram(hist, hist["boundary"], tmp / "distance_hist.png")
        log_file(tmp / "distance_hist.png", PLOTS_DIR)
        plot_composition(composition["pool"], selected, tmp / "composition.png")
        log_file(tmp / "composition.png", PLOTS_DIR)


def record_rank_output(path: str, version: int) -> None:
    """Log the written selection table as the run's output (dataset and tags)."""
    log_delta_table(str(path), version, "output", name="selection")
    set_tags({OUTPUT_PATH_TAG: str(path), OUTPUT_VERSION_TAG: str(version)})
