"""Each target's profile, built on the driver from its (small) set of target rows.

The target rows of every target are read in one scan
(:func:`~nag_spark.spark.targets.collect_target_rows`), decoded with the features table's
NAG codec and counted into a :class:`~nag_spark.kernels.profile.TargetProfile`.
"""
from __future__ import annotations

from ...kernels.profile import TargetProfile
from ...tables.features import decode_nags
from ..targets import collect_target_rows
from .options import RankOptions
from .plan import RankingPlan


def target_profiles(plan: RankingPlan, opts: RankOptions) -> tuple[list[TargetProfile], list[int]]:
    """One profile per target of ``plan``, and the number of target rows it was built from.

    Raises
    ------
    InputError
        A target with no rows, or target NAGs that do not match the table's L, K and N.
    """
    profiles, counts = [], []
    tables = collect_target_rows(plan.target_df, plan.specs, [opts.neuron_type], plan.target_path)
    for table in tables:
        nags = decode_nags(table.column(0), plan.num_layers * plan.top_k, opts.neuron_type)
        profiles.append(TargetProfile.from_nags(nags, plan.num_layers, plan.top_k,
                                                plan.n_neurons, plan.layers, opts.power))
        counts.append(table.num_rows)
    return profiles, counts
