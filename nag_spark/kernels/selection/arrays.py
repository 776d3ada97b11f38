"""The distributed selection run on in-memory partitions (tests, small pools).

:class:`ArrayBackend` answers :func:`~.boundary.find_cutoff`'s questions partition by
partition and merges, as Spark does; :func:`select_partitioned` runs every step of the
Spark job on arrays, so the tests can check it against the sequential definition.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .bins import BinStats, bin_index, docid_bucket, key_bin_stats
from .boundary import DEFAULT_BINS, DEFAULT_MAX_BOUNDARY_ROWS, find_cutoff
from .budget import Selection, token_budget
from .ranks import RankAssigner, plan_rank_groups


class ArrayBackend:
    """:class:`~.boundary.BoundaryBackend` over in-memory partitions.

    Each method aggregates partition by partition and merges, as Spark does.
    """

    def __init__(self, partitions: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]):
        self.parts = [(np.asarray(k, np.float64), np.asarray(d).astype(str),
                       np.asarray(t, np.int64)) for k, d, t in partitions]

    def _merge(self, stats: list[BinStats]) -> BinStats:
        out = stats[0]
        for s in stats[1:]:
            out = out.merge(s)
        return out

    def key_stats(self, lo, hi, n_bins):
        return self._merge([key_bin_stats(k, t, lo, hi, n_bins) for k, _, t in self.parts])

    def _tie_rows(self, key, id_lo, id_hi):
        for k, d, t in self.parts:
            m = k == key
            if id_lo is not None:
                m &= (d >= id_lo) & (d <= id_hi)
            yield d[m], t[m]

    def docid_splitters(self, key, id_lo, id_hi, n, count):
        ids = np.unique(np.concatenate([d for d, _ in self._tie_rows(key, id_lo, id_hi)]))
        step = max(1, len(ids) // n)
        return ids[::step].tolist()

    def docid_stats(self, key, id_lo, id_hi, splitters):
        nb = len(splitters) + 1
        return self._merge([BinStats.from_rows(docid_bucket(d, splitters), t, d, nb)
                            for d, t in self._tie_rows(key, id_lo, id_hi)])

    def rows(self, key_lo, key_hi, id_lo=None, id_hi=None):
        ks, ds, ts = [], [], []
        for k, d, t in self.parts:
            m = (k >= key_lo) & (k <= key_hi)
            if id_lo is not None:
                m &= (d >= id_lo) & (d <= id_hi)
            ks.append(k[m]); ds.append(d[m]); ts.append(t[m])
        return np.concatenate(ks), np.concatenate(ds), np.concatenate(ts)


def select_partitioned(key, docid, token_num, fraction: float, n_partitions: int,
                       n_bins: int = DEFAULT_BINS, max_rows: int = DEFAULT_MAX_BOUNDARY_ROWS,
                       rows_per_group: int = 1000, seed: int = 0) -> Selection:
    """The distributed algorithm run on arrays split into ``n_partitions`` random parts.

    Gives the same :class:`~.budget.Selection` as
    :func:`~.budget.select_by_token_budget` (that equality is what the tests check); the
    Spark job runs the same steps with Spark aggregations.

    Examples
    --------
    >>> s = select_partitioned([0.3, 0.1, 0.2, 0.1], ["c", "b", "d", "a"], [5, 5, 5, 5],
    ...                        0.5, n_partitions=2, n_bins=2, max_rows=1)
    >>> s.order.tolist(), s.cum_tokens.tolist()
    ([3, 1], [5, 10])
    """
    key = np.asarray(key, np.float64)
    docid = np.asarray(docid).astype(str)
    tokens = np.asarray(token_num, np.int64)
    budget = token_budget(int(tokens.sum()), fraction)
    part = np.random.default_rng(seed).integers(0, n_partitions, len(key))
    backend = ArrayBackend([(key[part == p], docid[part == p], tokens[part == p])
                            for p in range(n_partitions)])
    lo, hi = float(key.min()), float(key.max())
    first = backend.key_stats(lo, hi, n_bins)
    result = find_cutoff(backend, first, budget, n_bins, max_rows)
    plan = plan_rank_groups(first, result.boundary_bin, rows_per_group)
    kept = np.flatnonzero(result.cutoff.mask(key, docid))
    group = plan.group_of_bin[bin_index(key[kept], lo, hi, n_bins)]
    # Each group is ranked independently (on any worker); only rows inside a group are sorted.
    order = np.lexsort((docid[kept], key[kept], group))
    kept, group = kept[order], group[order]
    rank, cum = RankAssigner(plan).assign(group, tokens[kept])
    assert np.array_equal(rank, np.arange(1, len(kept) + 1))
    return Selection(kept, cum, budget)
