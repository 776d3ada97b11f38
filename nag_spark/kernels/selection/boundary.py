"""Finding the exact end of a selection from histograms, wherever the rows live.

Only the boundary bin's rows are ordered exactly (:func:`cut_sorted_rows`); when that bin
holds too many rows it is refined by a finer histogram over its own key range, and a bin of
one repeated key is split on ``docid`` with sampled splitters. :func:`find_cutoff` drives
those steps through a :class:`BoundaryBackend` (arrays in the tests, Spark aggregations in
the job) and returns a :class:`Cutoff`: a predicate in ``(key, docid)`` order that any
worker evaluates row by row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from .bins import BinStats, crossing_bin
from .budget import key_order

DEFAULT_BINS = 4096
DEFAULT_MAX_BOUNDARY_ROWS = 200_000


@dataclass(frozen=True)
class Cutoff:
    """The end of a selection in ``(key, docid)`` order.

    A row is kept when ``(key, docid) < (self.key, self.docid)``, or equal when
    ``inclusive``. ``key is None`` keeps every row (the budget covers the whole pool).

    Examples
    --------
    >>> Cutoff(0.5, "b", inclusive=False).mask([0.4, 0.5, 0.5, 0.6], ["z", "a", "b", "a"]).tolist()
    [True, True, False, False]
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

    Examples
    --------
    >>> cut_sorted_rows([0.2, 0.1, 0.3], ["b", "a", "c"], [4, 4, 4], 9, 5)
    Cutoff(key=0.3, docid='c', inclusive=False)
    >>> cut_sorted_rows([0.1], ["a"], [50], 9, 0)   # the pool's first row is always kept
    Cutoff(key=0.1, docid='a', inclusive=True)
    """
    key = np.asarray(key, dtype=np.float64)
    docid = np.asarray(docid).astype(str)
    order = key_order(key, docid)
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
