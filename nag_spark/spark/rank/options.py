"""What a ranking run is asked to do (:class:`RankOptions`) and what it did
(:class:`RankResult`, one :class:`TargetOutcome` per target)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ...kernels.selection import DEFAULT_BINS, DEFAULT_MAX_BOUNDARY_ROWS


@dataclass(frozen=True)
class RankOptions:
    """What to rank and how (the options of ``jobs/rank.py``).

    Frozen: :func:`~nag_spark.spark.rank.plan.plan_ranking` checks them and returns a
    resolved :class:`~nag_spark.spark.rank.plan.RankingPlan`; nothing rewrites them.

    Parameters
    ----------
    targets : sequence of str
        Target names from ``conf/targets.yaml`` or inline ``COL=VALUE[|VALUE]`` filters.
    pool, output : str
        Features Delta table of the pool; selection Delta table to write.
    target_features : str, optional
        Features table holding the target rows (default: the pool table; then target
        rows are excluded from the pool).
    fraction : float
        Token fraction in (0, 1]; with M targets each selects ``fraction / M``.
    neuron_type, layers, power
        Which NAG column, which layers score, exponent on the profile's raw weights (the
        target counts, for the paper's weighting).
    profile_weighting : {"paper", "log-ratio", "tfidf"}
        How target counts become the profile (:mod:`nag_spark.kernels.profile`): the
        paper's normalised counts (default), or weighed against the pool's counts of each
        neuron (one more aggregation over the pool's NAGs).
    top_k : int, optional
        Score with the first ``top_k`` indices of each layer's NAG only (they are stored in
        impact order); default all K of the features. Target profile and pool counts use
        the same first ``top_k``.
    quality_col, invert_quality
        Quality blend: min-max normalised distance + quality (inverted when higher is
        better); selection by the sum (``combined_score``).
    dedupe : bool
        Drop a docid from later targets when an earlier target kept it.
    payload_cols : sequence of str
        Extra pool columns copied into the selection.
    experiment, run_name : str, optional
        MLflow experiment and run name (default ``rank-<targets>``).
    mode : {"overwrite", "error"}
        What to do when the output table exists.
    targets_file : str, optional
        Target definitions (default ``conf/targets.yaml``).
    n_bins, max_boundary_rows, rows_per_group : int
        Histogram resolution, largest boundary set ordered on the driver, and rows per
        ranking group (:func:`~nag_spark.spark.rank.selection.select_exact`).
    storage_level : str
        How the scored pool is kept between its passes (a ``pyspark.StorageLevel`` name).
        The default, Spark's own for cached DataFrames, keeps the scored rows (about 50
        bytes a document) in the storage memory and spills what does not fit to disk, so
        memory stays bounded; ``DISK_ONLY`` made the pool checks 2.6x slower.
    scan : {"auto", "direct", "spark"}
        Who reads the pool's NAGs (:mod:`~nag_spark.spark.rank.direct_scan`): the Python
        workers from the pinned version's files (``direct``; ``auto`` where the table
        allows it, else Spark's reader, saying why) or Spark's reader (``spark``).
    """

    targets: Sequence[str]
    pool: str
    output: str
    target_features: str | None = None
    fraction: float = 0.2
    neuron_type: str = "fwd_up"
    layers: str | Sequence[int] = "all"
    power: float = 1.0
    profile_weighting: str = "paper"
    top_k: int | None = None
    quality_col: str | None = None
    invert_quality: bool = False
    dedupe: bool = False
    payload_cols: Sequence[str] = ()
    experiment: str | None = None
    run_name: str | None = None
    mode: str = "overwrite"
    targets_file: str | None = None
    n_bins: int = DEFAULT_BINS
    max_boundary_rows: int = DEFAULT_MAX_BOUNDARY_ROWS
    rows_per_group: int = 1_000_000
    storage_level: str = "MEMORY_AND_DISK_DESER"
    scan: str = "auto"


@dataclass
class TargetOutcome:
    """Per-target numbers of a ranking run."""

    name: str
    spec: str
    n_target_rows: int
    profile_digest: str
    budget: int
    selected_docs: int = 0
    selected_tokens: int = 0
    boundary: float | None = None
    boundary_rows: int = 0
    refinement_rounds: int = 0


@dataclass
class RankResult:
    """What :func:`~nag_spark.spark.rank.run.run_ranking` did."""

    run_id: str
    output_path: str
    output_version: int
    pool_docs: int
    pool_tokens: int
    targets: list[TargetOutcome]
    timings: dict[str, float] = field(default_factory=dict)
    excluded_target_rows: int = 0
    scan: str = "spark"  # who read the pool's NAGs: "direct" (Python workers) or "spark"
