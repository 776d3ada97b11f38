"""Each target's profile, built on the driver from its (small) set of target rows.

The target rows of every target are read in one scan
(:func:`~nag_spark.spark.targets.collect_target_rows`), decoded with the features table's
NAG codec, cut to their first k indices per layer (``--top-k``) and counted into a
:class:`~nag_spark.kernels.profile.TargetProfile` with the run's weighting; the contrastive
weightings also take the pool's neuron counts
(:func:`~nag_spark.spark.rank.pool_frequencies.pool_frequencies`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...errors import InputError
from ...kernels.profile import PoolFrequencies, TargetProfile, nag_prefix
from ...tables.nag_codec import decode_nags
from ..targets import collect_target_rows
from .options import RankOptions
from .plan import RankingPlan


class TargetRows(NamedTuple):
    """Each target's profile, its row count, and the docids of all target rows."""

    profiles: list[TargetProfile]
    counts: list[int]
    docids: list[str]


def check_unique_docids(table, what: str, action: str = "ranked") -> None:
    """Refuse target rows (an Arrow table with ``docid``) in which a docid repeats: its NAG
    would count twice in the profile."""
    import pyarrow.compute as pc

    counts = pc.value_counts(table.column("docid")).to_pylist()
    dups = sorted(((c["counts"], c["values"]) for c in counts if c["counts"] > 1),
                  key=lambda x: (-x[0], str(x[1])))
    if dups:
        shown = ", ".join(f"{d!r} ({n}x)" for n, d in dups[:5])
        raise InputError(
            f"{what}: {len(dups)} docids appear more than once among the target rows, e.g. "
            f"{shown}. A features table must hold each document once (was it filled by two "
            f"extractions at once?): extract into a new table; nothing was {action}")


class TargetNags(NamedTuple):
    """Each target's NAGs (cut to the run's first k per layer), its row count, and the
    docids of all target rows."""

    nags: list[np.ndarray]
    counts: list[int]
    docids: list[str]


def target_nags(plan: RankingPlan, opts: RankOptions) -> TargetNags:
    """Read and decode every target's rows (one scan), checked unique within each target.

    Raises
    ------
    InputError
        A target with no rows, a docid twice among its rows, or target NAGs that do not
        match the table's L and K.
    """
    nags, counts, docids = [], [], set()
    tables = collect_target_rows(plan.target_df, plan.specs, ["docid", opts.neuron_type],
                                 plan.target_path)
    for spec, table in zip(plan.specs, tables):
        check_unique_docids(table, f"target {spec.name!r} of {plan.target_path}")
        decoded = decode_nags(table.column(1), plan.num_layers * plan.top_k, opts.neuron_type)
        nags.append(nag_prefix(decoded, plan.num_layers, plan.top_k, plan.used_top_k))
        counts.append(table.num_rows)
        docids.update(d for d in table.column("docid").to_pylist() if d is not None)
    return TargetNags(nags, counts, sorted(docids))


def build_profiles(plan: RankingPlan, opts: RankOptions, target: TargetNags,
                   pool: PoolFrequencies | None = None) -> list[TargetProfile]:
    """One profile per target from its NAGs, with the run's layers, power and weighting
    (``pool``: the pool's neuron counts, for the contrastive weightings)."""
    return [TargetProfile.from_nags(nags, plan.num_layers, plan.used_top_k, plan.n_neurons,
                                    plan.layers, opts.power, opts.profile_weighting, pool)
            for nags in target.nags]


def target_profiles(plan: RankingPlan, opts: RankOptions,
                    pool: PoolFrequencies | None = None) -> TargetRows:
    """One profile per target of ``plan``, the number of target rows each was built from,
    and the target rows' docids (checked unique within each target).

    Raises
    ------
    InputError
        A target with no rows, a docid twice among its rows, or target NAGs that do not
        match the table's L, K and N.
    """
    target = target_nags(plan, opts)
    return TargetRows(build_profiles(plan, opts, target, pool), target.counts, target.docids)
