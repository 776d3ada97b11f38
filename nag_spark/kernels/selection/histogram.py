"""The whole pool's first-level histogram, as a ranking run reports it.

The selection's first aggregation (tokens, rows and key bounds per bin and dataset) is
also what the run shows of the pool: a coarser histogram of the key per dataset
(:meth:`FirstHistogram.display`, logged as ``stats/distance_hist.json``) and key quantiles
(:meth:`FirstHistogram.quantiles`, logged as metrics), with no second pass over the pool.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .bins import BinStats


@dataclass
class FirstHistogram:
    """The whole pool's first-level histogram: selection stats plus per-dataset counts.

    Examples
    --------
    >>> stats = BinStats.from_rows([0, 1, 1, 3], [4, 4, 4, 4], np.array([0.1, 0.3, 0.4, 0.9]), 4)
    >>> h = FirstHistogram(stats, 0.0, 1.0, 4, {"web": np.array([1, 2, 0, 1])}, {"web": 16})
    >>> h.display(n_display=2)
    {'edges': [0.0, 0.5, 1.0], 'counts': {'web': [3, 1]}}
    >>> h.quantiles([0.5])
    {0.5: 0.375}
    """

    stats: BinStats
    lo: float
    hi: float
    n_bins: int
    counts_by_dataset: dict[str, np.ndarray]
    tokens_by_dataset: dict[str, int]

    def display(self, n_display: int = 64) -> dict:
        """The bins from the first to the last non-empty one, coarsened to at most
        ``n_display`` equal bins (a histogram on a fixed grid shows where the keys are)."""
        seen = np.flatnonzero(self.stats.counts)
        first, last = (int(seen[0]), int(seen[-1])) if len(seen) else (0, self.n_bins - 1)
        span = last - first + 1
        factor = max(1, -(-span // n_display))
        nb = -(-span // factor)
        width = ((self.hi - self.lo) if self.hi > self.lo else 1e-9) / self.n_bins
        edges = np.minimum(self.lo + (first + np.arange(nb + 1) * factor) * width,
                           self.hi if self.hi > self.lo else self.lo + 1e-9)

        def coarse(c):
            part = np.zeros(nb * factor, np.int64)
            got = np.asarray(c[first:first + nb * factor])
            part[:len(got)] = got
            return part.reshape(nb, factor).sum(axis=1).astype(int).tolist()

        return {"edges": edges.tolist(),
                "counts": {d: coarse(c) for d, c in self.counts_by_dataset.items()}}

    def quantiles(self, qs: Sequence[float]) -> dict[float, float]:
        """Row quantiles of the key, interpolated inside bins (exact to one bin width)."""
        cum = np.cumsum(self.stats.counts)
        total = cum[-1] if len(cum) else 0
        width = (self.hi - self.lo) / self.n_bins
        out = {}
        for q in qs:
            if total == 0:
                out[q] = float("nan")
                continue
            target = q * total
            b = int(np.searchsorted(cum, target, side="left"))
            b = min(b, self.n_bins - 1)
            before = cum[b - 1] if b else 0
            inside = self.stats.counts[b]
            frac = (target - before) / inside if inside else 0.0
            out[q] = float(self.lo + (b + frac) * width)
        return out
