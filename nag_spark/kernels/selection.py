"""Exact selection by token budget (DESIGN.md §1), sequentially and in distributable pieces.

The definition: order rows by ``(key, docid)`` ascending (``key`` is ``nag_distance``, or
the blended score), take ``budget = floor(fraction × Σ token_num)`` and keep the longest
prefix whose cumulative ``token_num`` is ≤ budget; if even the first row exceeds it, keep
the first row. :func:`select_by_token_budget` is that definition, written plainly.

The distributed algorithm never sorts the pool. Its pieces live here so that they are
tested on arrays and reused unchanged by the Spark driver:

1. a token-weighted histogram of the key (:func:`key_bin_stats`, mergeable per partition)
   finds the bin where the cumulative tokens first exceed the budget
   (:func:`crossing_bin`); every bin below it is kept whole, every bin above it dropped;
2. only that boundary bin's rows are ordered exactly (:func:`cut_sorted_rows`); when it
   holds too many rows it is refined by a finer histogram over its own key range, and a
   bin of one repeated key is split on ``docid`` with sampled splitters
   (:func:`find_cutoff`, driven through a :class:`BoundaryBackend`);
3. the result is a :class:`Cutoff` in ``(key, docid)`` order, a predicate any worker
   evaluates row by row;
4. ``rank`` and ``cum_tokens`` of the kept rows come from the histogram's per-bin counts and
   tokens plus a local sort inside groups of whole bins (:func:`plan_rank_groups`,
   :class:`RankAssigner`): exact, with no global sort and no single-partition window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

from ..errors import InputError

DEFAULT_BINS = 4096
DEFAULT_MAX_BOUNDARY_ROWS = 200_000


def check_fraction(fraction: float) -> float:
    """Validate a selection fraction: a number in (0, 1]."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise InputError(f"--fraction must be a number in (0, 1], got {fraction!r}") from None
    if not (0.0 < value <= 1.0):
        raise InputError(f"--fraction must be in (0, 1], got {fraction}")
    return value


def token_budget(total_tokens: int, fraction: float) -> int:
    """``floor(fraction × total_tokens)``, the one place the budget is computed.

    >>> token_budget(1001, 0.2)
    200
    """
    return int(math.floor(check_fraction(fraction) * int(total_tokens)))


def _order(key: np.ndarray, docid: np.ndarray) -> np.ndarray:
    # lexsort: last key is primary. Unicode arrays compare by code point, which is also the
    # order of their UTF-8 bytes, i.e. Spark's string order.
    return np.lexsort((np.asarray(docid).astype(str), np.asarray(key, dtype=np.float64)))


@dataclass(frozen=True)
class Selection:
    """Rows kept by a selection, in rank order.

    Attributes
    ----------
    order : ndarray of int
        Positions (into the input arrays) of the kept rows; ``rank = i + 1``.
    cum_tokens : ndarray of int64
        Cumulative tokens of the kept rows, in the same order.
    budget : int
        The token budget used.
    """

    order: np.ndarray
    cum_tokens: np.ndarray
    budget: int


def select_by_token_budget(key, docid, token_num, fraction: float) -> Selection:
    """The sequential reference of DESIGN.md §1.

    Examples
    --------
    >>> s = select_by_token_budget([0.3, 0.1, 0.2], ["c", "a", "b"], [5, 5, 5], 0.7)
    >>> s.order.tolist(), s.cum_tokens.tolist(), s.budget
    ([1, 2], [5, 10], 10)
    """
    key = np.asarray(key, dtype=np.float64)
    tokens = np.asarray(token_num, dtype=np.int64)
    budget = token_budget(int(tokens.sum()), fraction)
    if len(key) == 0:
        return Selection(np.zeros(0, np.int64), np.zeros(0, np.int64), budget)
    order = _order(key, docid)
    cum = np.cumsum(tokens[order])
    n = int(np.count_nonzero(cum <= budget))  # cum is non-decreasing: the prefix length
    n = max(n, 1)
    return Selection(order[:n], cum[:n], budget)


# ---------------------------------------------------------------- distributable pieces


@dataclass(frozen=True)
class Cutoff:
    """The end of a selection in ``(key, docid)`` order.

    A row is kept when ``(key, docid) < (self.key, self.docid)``, or equal when
    ``inclusive``. ``key is None`` keeps every row (the budget covers the whole pool).
    """

    key: float | None
    docid: str | None
    inclusive: bool = True

    @property
    def keeps_all(self) -> bool:
        return self.key is None

    def mask(self, key, docid) -> np.ndarray:
        """Which rows the cutoff keeps."""
        key = np.asarray(key, dtype=np.float64)
        if self.keeps_all:
            return np.ones(len(key), dtype=bool)
        docid = np.asarray(docid).astype(str)
        same = key == self.key
        tie = docid <= self.docid if self.inclusive else docid < self.docid
        return (key < self.key) | (same & tie)


KEEP_ALL = Cutoff(None, None, True)


@dataclass
class BinStats:
    """Per-bin token sums, row counts and key bounds of a histogram (mergeable).

    ``lo[b]``/``hi[b]`` are the smallest/largest key (or docid, for docid buckets) seen in
    bin ``b``; because bins are contiguous in key order, ``lo[b] <= key <= hi[b]`` selects
    exactly the rows of bin ``b``, with no floating-point edge to get wrong.
    """

    tokens: np.ndarray
    counts: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def empty(cls, n_bins: int, dtype=np.float64) -> "BinStats":
        lo = np.full(n_bins, np.inf) if dtype == np.float64 else np.full(n_bins, None, object)
        hi = np.full(n_bins, -np.inf) if dtype == np.float64 else np.full(n_bins, None, object)
        return cls(np.zeros(n_bins, np.int64), np.zeros(n_bins, np.int64), lo, hi)

    @classmethod
    def from_rows(cls, bins, tokens, values, n_bins: int) -> "BinStats":
        """Aggregate rows (bin id, tokens, key or docid) into per-bin stats."""
        bins = np.asarray(bins, dtype=np.int64)
        tok = np.zeros(n_bins, np.int64)
        np.add.at(tok, bins, np.asarray(tokens, dtype=np.int64))  # exact integer sums
        cnt = np.bincount(bins, minlength=n_bins).astype(np.int64)
        values = np.asarray(values)
        numeric = values.dtype.kind == "f"
        out = cls.empty(n_bins, np.float64 if numeric else object)
        out.tokens, out.counts = tok, cnt
        if len(bins):
            order = np.lexsort((values.astype(str) if not numeric else values, bins))
            sb, sv = bins[order], values[order]
            first = np.r_[True, sb[1:] != sb[:-1]]
            last = np.r_[sb[1:] != sb[:-1], True]
            out.lo[sb[first]] = sv[first]
            out.hi[sb[last]] = sv[last]
        return out

    def merge(self, other: "BinStats") -> "BinStats":
        """Combine the stats of two disjoint sets of rows (e.g. two partitions)."""
        def pick(a, b, fn):
            res = a.copy()
            for i in range(len(a)):
                if b[i] is not None and not (isinstance(b[i], float) and np.isinf(b[i])):
                    res[i] = b[i] if a[i] is None or (isinstance(a[i], float) and np.isinf(a[i])) \
                        else fn(a[i], b[i])
            return res
        if self.lo.dtype == np.float64:
            return BinStats(self.tokens + other.tokens, self.counts + other.counts,
                            np.minimum(self.lo, other.lo), np.maximum(self.hi, other.hi))
        return BinStats(self.tokens + other.tokens, self.counts + other.counts,
                        pick(self.lo, other.lo, min), pick(self.hi, other.hi, max))


def bin_index(key, lo: float, hi: float, n_bins: int) -> np.ndarray:
    """Uniform bins over ``[lo, hi]``: a monotone map from key to bin (ties share a bin).

    Spark evaluates the same formula as a SQL expression (``spark/rank_selection.py``).
    """
    key = np.asarray(key, dtype=np.float64)
    if hi <= lo:
        return np.zeros(len(key), dtype=np.int64)
    scale = n_bins / (hi - lo)
    return np.clip(np.floor((key - lo) * scale), 0, n_bins - 1).astype(np.int64)


def key_bin_stats(key, tokens, lo: float, hi: float, n_bins: int) -> BinStats:
    """Token-weighted histogram of ``key`` over ``[lo, hi]`` (rows outside are ignored)."""
    key = np.asarray(key, dtype=np.float64)
    inside = (key >= lo) & (key <= hi)
    key = key[inside]
    return BinStats.from_rows(bin_index(key, lo, hi, n_bins),
                              np.asarray(tokens)[inside], key, n_bins)


def docid_bucket(docid, splitters: Sequence[str]) -> np.ndarray:
    """Bucket ``i`` holds docids in ``(splitters[i-1], splitters[i]]`` (monotone in docid)."""
    return np.searchsorted(np.asarray(splitters, dtype=str), np.asarray(docid).astype(str),
                           side="left").astype(np.int64)


def crossing_bin(tokens_per_bin: np.ndarray, remaining: int) -> int | None:
    """First bin at which cumulative tokens exceed ``remaining``; None when all fit.

    >>> crossing_bin(np.array([3, 0, 4, 2]), 6)
    2
    """
    cum = np.cumsum(tokens_per_bin)
    over = np.flatnonzero(cum > remaining)
    return int(over[0]) if len(over) else None


def cut_sorted_rows(key, docid, tokens, remaining: int, count_before: int) -> Cutoff:
    """Exact cutoff inside the boundary rows (which the budget is known to cross).

    Parameters
    ----------
    key, docid, tokens : array-like
        Every row of the boundary set (any order).
    remaining : int
        Budget left after all rows ordered before the set.
    count_before : int
        Rows ordered before the set; 0 means the set starts the pool, so its first row is
        kept even when it alone exceeds the budget.
    """
    key = np.asarray(key, dtype=np.float64)
    docid = np.asarray(docid).astype(str)
    order = _order(key, docid)
    cum = np.cumsum(np.asarray(tokens, dtype=np.int64)[order])
    n = int(np.count_nonzero(cum <= remaining))
    if n == 0 and count_before == 0:
        n = 1
    if n < len(order):  # the first row left out bounds the selection from above
        i = order[n]
        return Cutoff(float(key[i]), str(docid[i]), inclusive=False)
    i = order[n - 1]
    return Cutoff(float(key[i]), str(docid[i]), inclusive=True)


class BoundaryBackend(Protocol):
    """What :func:`find_cutoff` needs from wherever the rows live (arrays, Spark)."""

    def key_stats(self, lo: float, hi: float, n_bins: int) -> BinStats:
        """Histogram of rows with ``lo <= key <= hi`` (see :func:`key_bin_stats`)."""

    def docid_splitters(self, key: float, id_lo: str | None, id_hi: str | None, n: int,
                        count: int) -> list[str]:
        """About ``n`` docids sampled among the ``count`` rows with that key and docid range."""

    def docid_stats(self, key: float, id_lo: str, id_hi: str,
                    splitters: Sequence[str]) -> BinStats:
        """Buckets (:func:`docid_bucket`) of rows with that key and docid range."""

    def rows(self, key_lo: float, key_hi: float, id_lo: str | None = None,
             id_hi: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(key, docid, tokens)`` of rows in the key range (and docid range)."""


@dataclass(frozen=True)
class BoundaryResult:
    """Outcome of :func:`find_cutoff`.

    ``boundary_bin`` is the first-level bin holding the cutoff (``n_bins`` when every row
    is kept); ``rounds`` counts histogram passes after the first, ``boundary_rows`` the
    rows finally ordered exactly.
    """

    cutoff: Cutoff
    boundary_bin: int
    rounds: int
    boundary_rows: int


def find_cutoff(backend: BoundaryBackend, first: BinStats, budget: int,
                n_bins: int = DEFAULT_BINS,
                max_rows: int = DEFAULT_MAX_BOUNDARY_ROWS) -> BoundaryResult:
    """Locate the exact selection cutoff from a first-level key histogram.

    Parameters
    ----------
    backend : BoundaryBackend
        Gives finer histograms and the boundary rows.
    first : BinStats
        Histogram of the whole pool (e.g. merged :func:`key_bin_stats` of all partitions).
    budget : int
        Token budget.
    n_bins : int
        Bins of each refinement.
    max_rows : int
        A boundary set with at most this many rows is collected and ordered exactly.
    """
    if n_bins < 2:
        raise ValueError("refinement needs at least 2 bins to make progress")
    b0 = crossing_bin(first.tokens, budget)
    if b0 is None:
        return BoundaryResult(KEEP_ALL, len(first.tokens), 0, 0)
    stats, b = first, b0
    tokens_before = count_before = 0
    rounds = 0
    tie_key: float | None = None  # set once the boundary is one repeated key
    while True:
        tokens_before += int(stats.tokens[:b].sum())
        count_before += int(stats.counts[:b].sum())
        lo, hi, count = stats.lo[b], stats.hi[b], int(stats.counts[b])
        remaining = budget - tokens_before
        if tie_key is None:
            if count <= max_rows:
                k, d, t = backend.rows(float(lo), float(hi))
                return BoundaryResult(cut_sorted_rows(k, d, t, remaining, count_before),
                                      b0, rounds, len(k))
            if lo < hi:
                stats = backend.key_stats(float(lo), float(hi), n_bins)
            else:
                tie_key = float(lo)
                stats = _docid_refine(backend, tie_key, None, None, n_bins, count)
        else:
            if count <= max_rows or lo == hi:
                k, d, t = backend.rows(tie_key, tie_key, lo, hi)
                return BoundaryResult(cut_sorted_rows(k, d, t, remaining, count_before),
                                      b0, rounds, len(k))
            stats = _docid_refine(backend, tie_key, lo, hi, n_bins, count)
        rounds += 1
        b = crossing_bin(stats.tokens, remaining)
        if b is None:  # cannot happen for a set that crosses the budget; guard anyway
            raise RuntimeError("boundary refinement lost the crossing bin")


def _docid_refine(backend: BoundaryBackend, key: float, id_lo, id_hi, n: int,
                  count: int) -> BinStats:
    splitters = set(backend.docid_splitters(key, id_lo, id_hi, n, count))
    if id_lo is not None:
        # The smallest docid as its own bucket guarantees progress whatever the sample.
        splitters.add(id_lo)
    return backend.docid_stats(key, id_lo, id_hi, sorted(splitters))


# ---------------------------------------------------------------- ranks without a sort


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
    """Cut bins ``0..boundary_bin`` into consecutive groups of about ``rows_per_group`` rows."""
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


# ---------------------------------------------------------------- array backend


class ArrayBackend:
    """:class:`BoundaryBackend` over in-memory partitions (tests, small pools).

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

    Gives the same :class:`Selection` as :func:`select_by_token_budget` (that equality is
    what the tests check); the Spark job runs the same steps with Spark aggregations.
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


# ---------------------------------------------------------------- variants


def minmax_normalise(values, lo: float, hi: float, invert: bool = False) -> np.ndarray:
    """``(v - lo) / (hi - lo)`` (0 when hi == lo); ``1 - that`` when ``invert``."""
    values = np.asarray(values, dtype=np.float64)
    span = hi - lo
    out = (values - lo) / span if span > 0 else np.zeros_like(values)
    return 1.0 - out if invert else out


def blend_quality(distance, quality, distance_bounds, quality_bounds,
                  invert_quality: bool) -> np.ndarray:
    """The paper's quality blend: normalised distance plus normalised quality (lower wins).

    ``invert_quality`` is for higher-is-better quality scores.
    """
    return (minmax_normalise(distance, *distance_bounds)
            + minmax_normalise(quality, *quality_bounds, invert=invert_quality))


def split_fraction(fraction: float, n_targets: int) -> float:
    """Each of M targets selects ``fraction / M`` (the paper's multi-target mixture)."""
    if n_targets < 1:
        raise InputError("at least one target is needed")
    return check_fraction(fraction) / n_targets


def select_multi_target(keys: dict, docid, token_num, fraction: float,
                        dedupe: bool = False) -> list[tuple[str, Selection]]:
    """Sequential multi-target reference: each target keeps ``fraction / M``.

    With ``dedupe`` a docid kept by an earlier target (in ``keys`` order) is dropped from the
    later ones; ranks and cum_tokens stay those of each target's own selection.
    """
    frac = split_fraction(fraction, len(keys))
    docid = np.asarray(docid).astype(str)
    seen: set[str] = set()
    out = []
    for target, key in keys.items():
        sel = select_by_token_budget(key, docid, token_num, frac)
        if dedupe:
            keep = np.array([d not in seen for d in docid[sel.order]], dtype=bool)
            seen.update(docid[sel.order].tolist())
            sel = Selection(sel.order[keep], sel.cum_tokens[keep], sel.budget)
        out.append((target, sel))
    return out
