"""Every target's selection from one scored pool: the paper's multi-target mixture.

Each of M targets keeps ``fraction / M`` of the pool's tokens by its own key
(:func:`~nag_spark.spark.rank.selection.select_exact`); the rows of all targets form one
selection table. With ``dedupe`` a docid an earlier target kept is dropped from the later
ones, as in :func:`nag_spark.kernels.selection.select_multi_target`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Sequence

from ...config import TargetSpec
from ...kernels.profile import TargetProfile
from ...kernels.selection import token_budget
from ...tables.selection import selection_columns
from .options import RankOptions, TargetOutcome
from .plan import RankingPlan
from .quality import order_key
from .selection import SparkSelection, select_exact


@dataclass(frozen=True, eq=False)
class TargetSelections:
    """The targets' selections, in target order, and their union as one frame.

    ``outcomes`` do not count selected docs and tokens yet: those are read back from the
    written table (:func:`~nag_spark.spark.rank.composition.selected_composition`).
    """

    outcomes: list[TargetOutcome]
    frame: object
    selections: list[SparkSelection]


def _outcome(spec: TargetSpec, n_rows: int, profile: TargetProfile, budget: int,
             sel: SparkSelection, hi: float) -> TargetOutcome:
    cut = sel.boundary.cutoff
    return TargetOutcome(spec.name, spec.describe(), n_rows, profile.digest(), budget,
                         boundary=(hi if cut.keeps_all else cut.key),
                         boundary_rows=sel.boundary.boundary_rows,
                         refinement_rounds=sel.boundary.rounds)


def select_all(scored, plan: RankingPlan, opts: RankOptions, keys: Sequence[str], stats: dict,
               profiles: Sequence[TargetProfile], n_target_rows: Sequence[int],
               histograms: Sequence | None = None) -> TargetSelections:
    """Select for each target of ``plan`` from ``scored`` (distance column ``keys[i]`` of
    target ``i``; ``stats`` from :func:`~nag_spark.spark.rank.pool.pool_stats`).

    ``histograms``: each target's first histogram of the whole pool, when the scan made
    them (``scored`` may then hold only the rows up to each target's cutoff)."""
    from pyspark.sql import functions as F

    outcomes, frames, selections = [], [], []
    cols, payload = selection_columns(bool(opts.quality_col)), list(opts.payload_cols)
    budget = token_budget(int(stats["tokens"]), plan.per_fraction)
    chosen_before = None  # docids every earlier target selected (for --dedupe)
    for i, (spec, key) in enumerate(zip(plan.specs, keys)):
        frame, order_col, (lo, hi) = order_key(scored, key, keys, stats, opts)
        sel = select_exact(frame, order_col, budget, lo, hi, n_bins=opts.n_bins,
                           max_boundary_rows=opts.max_boundary_rows,
                           rows_per_group=opts.rows_per_group,
                           hist=None if histograms is None else histograms[i])
        out = sel.df.select(*cols, F.lit(spec.name).alias("target"), *payload)
        if opts.dedupe:
            # Against the earlier targets' own selections, not their deduplicated outputs:
            # the docids are the same, and the plan stays linear in the number of targets
            # (each deduplicated output would embed every earlier one again).
            ids = sel.df.select("docid")
            if chosen_before is not None:
                out = out.join(chosen_before, "docid", "left_anti").select(*cols, "target", *payload)
                ids = chosen_before.unionByName(ids)
            chosen_before = ids
        frames.append(out)
        outcomes.append(_outcome(spec, n_target_rows[i], profiles[i], budget, sel, hi))
        selections.append(sel)
    return TargetSelections(outcomes, reduce(lambda a, b: a.unionByName(b), frames), selections)
