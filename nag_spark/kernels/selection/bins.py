"""Token-weighted histograms of the ranking key: the mergeable aggregate that lets the
distributed selection find its boundary without sorting the pool.

Bins are uniform over ``[lo, hi]`` and monotone in the key (:func:`bin_index`), so the bin
where cumulative tokens first exceed the budget (:func:`crossing_bin`) is the only one whose
rows need ordering: every bin below it is kept whole, every bin above it dropped. Rows with
one repeated key are bucketed on ``docid`` instead (:func:`docid_bucket`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class BinStats:
    """Per-bin token sums, row counts and key bounds of a histogram (mergeable).

    ``lo[b]``/``hi[b]`` are the smallest/largest key (or docid, for docid buckets) seen in
    bin ``b``; because bins are contiguous in key order, ``lo[b] <= key <= hi[b]`` selects
    exactly the rows of bin ``b``, with no floating-point edge to get wrong.

    Examples
    --------
    >>> a = BinStats.from_rows([0, 1], [5, 7], np.array([0.1, 0.9]), 2)
    >>> b = BinStats.from_rows([1], [3], np.array([0.6]), 2)
    >>> m = a.merge(b)
    >>> m.tokens.tolist(), m.counts.tolist(), m.lo.tolist(), m.hi.tolist()
    ([5, 10], [1, 2], [0.1, 0.6], [0.1, 0.9])
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

    Spark evaluates the same formula as a SQL expression
    (:func:`nag_spark.spark.rank.selection.bin_column`).

    >>> bin_index([0.0, 0.24, 0.25, 1.0], 0.0, 1.0, 4).tolist()
    [0, 0, 1, 3]
    """
    key = np.asarray(key, dtype=np.float64)
    if hi <= lo:
        return np.zeros(len(key), dtype=np.int64)
    scale = n_bins / (hi - lo)
    return np.clip(np.floor((key - lo) * scale), 0, n_bins - 1).astype(np.int64)


def key_bin_stats(key, tokens, lo: float, hi: float, n_bins: int) -> BinStats:
    """Token-weighted histogram of ``key`` over ``[lo, hi]`` (rows outside are ignored).

    >>> key_bin_stats([0.1, 0.7, 0.9, 2.0], [1, 2, 3, 4], 0.0, 1.0, 2).tokens.tolist()
    [1, 5]
    """
    key = np.asarray(key, dtype=np.float64)
    inside = (key >= lo) & (key <= hi)
    key = key[inside]
    return BinStats.from_rows(bin_index(key, lo, hi, n_bins),
                              np.asarray(tokens)[inside], key, n_bins)


def docid_bucket(docid, splitters: Sequence[str]) -> np.ndarray:
    """Bucket ``i`` holds docids in ``(splitters[i-1], splitters[i]]`` (monotone in docid).

    >>> docid_bucket(["a", "b", "c", "z"], ["b", "d"]).tolist()
    [0, 0, 1, 2]
    """
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
