"""What a run reports of the pool's first histogram (kernels/selection/histogram.py)."""
from __future__ import annotations

import math

import numpy as np

from nag_spark.kernels.selection import BinStats, FirstHistogram, key_bin_stats


def _histogram(key, datasets, n_bins=8):
    key = np.asarray(key, float)
    lo, hi = float(key.min()), float(key.max())
    stats = key_bin_stats(key, np.ones(len(key)), lo, hi, n_bins)
    bins = np.clip(np.floor((key - lo) * (n_bins / (hi - lo))), 0, n_bins - 1).astype(int)
    by_ds = {d: np.bincount(bins[np.asarray(datasets) == d], minlength=n_bins)
             for d in sorted(set(datasets))}
    return FirstHistogram(stats, lo, hi, n_bins, by_ds, {d: 1 for d in by_ds})


def test_display_coarsens_counts_per_dataset_and_keeps_the_edges():
    rng = np.random.default_rng(1)
    key = rng.uniform(0, 1, 400)
    datasets = rng.choice(["web", "code"], 400)
    h = _histogram(key, datasets)
    shown = h.display(n_display=4)
    assert len(shown["edges"]) == 5 and shown["edges"][0] == h.lo and shown["edges"][-1] == h.hi
    assert sum(map(sum, shown["counts"].values())) == 400
    assert shown["counts"]["web"] == h.counts_by_dataset["web"].reshape(4, 2).sum(axis=1).tolist()


def test_quantiles_lie_within_one_bin_of_the_exact_ones():
    key = np.random.default_rng(3).uniform(0, 1, 1000)
    h = _histogram(key, ["web"] * 1000, n_bins=64)
    width = (h.hi - h.lo) / 64
    for q, v in h.quantiles([0.05, 0.5, 0.95]).items():
        assert abs(v - np.quantile(key, q)) <= width


def test_an_empty_histogram_has_nan_quantiles():
    h = FirstHistogram(BinStats.empty(4), 0.0, 1.0, 4, {}, {})
    assert math.isnan(h.quantiles([0.5])[0.5])
