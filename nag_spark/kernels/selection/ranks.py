"""Exact ``rank`` and ``cum_tokens`` of the kept rows without a global sort.

The first-level histogram already says how many rows and tokens precede each bin. Bins
``0..boundary`` are cut into consecutive groups of whole bins (:func:`plan_rank_groups`);
each group is sorted on its own, on any worker, and :class:`RankAssigner` adds the group's
offsets to a running count. No single-partition window is ever needed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bins import BinStats


@dataclass(frozen=True)
class RankPlan:
    """Groups of whole first-level bins, each ranked by a local sort.

    ``group_of_bin[b]`` is the group of bin ``b`` (-1 for bins after the boundary);
    ``count_before[g]``/``tokens_before[g]`` are the rows/tokens ordered before group ``g``.
    """

    group_of_bin: np.ndarray
    count_before: np.ndarray
    tokens_before: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.count_before)


def plan_rank_groups(first: BinStats, boundary_bin: int, rows_per_group: int) -> RankPlan:
    """Cut bins ``0..boundary_bin`` into consecutive groups of about ``rows_per_group`` rows.

    Examples
    --------
    >>> stats = BinStats.from_rows([0, 0, 1, 2, 3], [1, 2, 3, 4, 5],
    ...                            np.array([0.1, 0.2, 0.3, 0.5, 0.8]), 4)
    >>> plan = plan_rank_groups(stats, 2, rows_per_group=2)
    >>> plan.group_of_bin.tolist(), plan.count_before.tolist(), plan.tokens_before.tolist()
    ([0, 1, 1, -1], [0, 2], [0, 3])
    """
    n_bins = len(first.counts)
    last = min(boundary_bin, n_bins - 1)
    group_of_bin = np.full(n_bins, -1, dtype=np.int64)
    count_before, tokens_before = [], []
    g, rows_in_group, c_acc, t_acc = -1, rows_per_group, 0, 0
    for b in range(last + 1):
        if rows_in_group >= rows_per_group and (first.counts[b] > 0 or g < 0):
            g += 1
            rows_in_group = 0
            count_before.append(c_acc)
            tokens_before.append(t_acc)
        group_of_bin[b] = g
        rows_in_group += int(first.counts[b])
        c_acc += int(first.counts[b])
        t_acc += int(first.tokens[b])
    return RankPlan(group_of_bin, np.asarray(count_before, np.int64),
                    np.asarray(tokens_before, np.int64))


class RankAssigner:
    """Streams rows sorted by ``(group, key, docid)`` and gives exact rank and cum_tokens.

    State survives across batches of one partition; a group never spans two partitions.

    Examples
    --------
    >>> plan = RankPlan(np.array([0, 1]), np.array([0, 2]), np.array([0, 30]))
    >>> ranker = RankAssigner(plan)
    >>> [a.tolist() for a in ranker.assign(np.array([1]), np.array([5]))]
    [[3], [35]]
    >>> [a.tolist() for a in ranker.assign(np.array([1, 1]), np.array([1, 2]))]
    [[4, 5], [36, 38]]
    """

    def __init__(self, plan: RankPlan):
        self.plan = plan
        self._group = -1
        self._count = 0
        self._tokens = 0

    def assign(self, group: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rank, cum_tokens)`` for the next batch of sorted rows."""
        group = np.asarray(group, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        rank = np.empty(len(group), np.int64)
        cum = np.empty(len(group), np.int64)
        if len(group) == 0:
            return rank, cum
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        ends = np.r_[starts[1:], len(group)]
        for s, e in zip(starts, ends):  # one iteration per group in the batch, not per row
            g = int(group[s])
            if g != self._group:
                self._group = g
                self._count = int(self.plan.count_before[g])
                self._tokens = int(self.plan.tokens_before[g])
            rank[s:e] = self._count + np.arange(1, e - s + 1)
            cum[s:e] = self._tokens + np.cumsum(tokens[s:e])
            self._count = int(rank[e - 1])
            self._tokens = int(cum[e - 1])
        return rank, cum
