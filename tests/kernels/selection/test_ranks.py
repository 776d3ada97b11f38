"""Ranks without a global sort (kernels/selection/ranks.py)."""
from __future__ import annotations

import numpy as np

from nag_spark.kernels.selection import RankAssigner, key_bin_stats, plan_rank_groups


def test_groups_ranked_apart_and_in_any_batches_give_the_global_ranks():
    rng = np.random.default_rng(9)
    key, tokens = np.sort(rng.uniform(0, 1, 300)), rng.integers(1, 9, 300)
    first = key_bin_stats(key, tokens, 0.0, 1.0, 32)
    plan = plan_rank_groups(first, 31, rows_per_group=40)
    assert plan.n_groups > 1 and (plan.group_of_bin >= 0).all()
    group = plan.group_of_bin[np.clip(np.floor(key * 32), 0, 31).astype(int)]
    rank, cum = [], []
    for g in range(plan.n_groups):  # one assigner per group, as on separate partitions
        ranker, rows = RankAssigner(plan), np.flatnonzero(group == g)
        for batch in np.array_split(rows, 3):
            r, c = ranker.assign(group[batch], tokens[batch])
            rank += r.tolist()
            cum += c.tolist()
    assert rank == list(range(1, 301)) and cum == np.cumsum(tokens).tolist()


def test_bins_after_the_boundary_belong_to_no_group():
    first = key_bin_stats([0.1, 0.5, 0.9], [1, 1, 1], 0.0, 1.0, 4)
    plan = plan_rank_groups(first, 1, rows_per_group=10)
    assert plan.group_of_bin.tolist() == [0, 0, -1, -1] and plan.n_groups == 1
    empty = RankAssigner(plan).assign(np.array([], int), np.array([], int))
    assert [len(a) for a in empty] == [0, 0]
