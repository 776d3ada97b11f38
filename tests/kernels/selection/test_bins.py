"""Histograms of the key (kernels/selection/bins.py): mergeable, monotone, exact sums."""
from __future__ import annotations

import numpy as np

from nag_spark.kernels.selection import (BinStats, bin_index, crossing_bin, docid_bucket,
                                         key_bin_stats)


def test_merged_partition_stats_equal_the_stats_of_all_rows():
    rng = np.random.default_rng(2)
    key, tokens = rng.uniform(0, 1, 500), rng.integers(0, 50, 500)
    whole = key_bin_stats(key, tokens, 0.0, 1.0, 16)
    parts = [key_bin_stats(key[i::3], tokens[i::3], 0.0, 1.0, 16) for i in range(3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    for field in ("tokens", "counts", "lo", "hi"):
        assert np.array_equal(getattr(merged, field), getattr(whole, field)), field
    assert whole.tokens.sum() == tokens.sum()


def test_docid_stats_merge_keeps_string_bounds():
    a = BinStats.from_rows([0, 1], [1, 1], np.array(["b", "x"]), 3)
    b = BinStats.from_rows([0, 2], [2, 2], np.array(["a", "z"]), 3)
    m = a.merge(b)
    assert m.lo.tolist() == ["a", "x", "z"] and m.hi.tolist() == ["b", "x", "z"]
    assert m.tokens.tolist() == [3, 1, 2]


def test_bins_are_monotone_in_the_key_and_a_flat_range_is_one_bin():
    key = np.sort(np.random.default_rng(4).uniform(-2, 3, 1000))
    bins = bin_index(key, -2.0, 3.0, 64)
    assert (np.diff(bins) >= 0).all() and bins[0] == 0 and bins[-1] == 63
    assert bin_index([0.5, 0.5], 0.5, 0.5, 64).tolist() == [0, 0]


def test_docid_buckets_and_the_crossing_bin():
    splitters = ["d", "m"]
    ids = np.array(["a", "d", "e", "m", "n"])
    assert docid_bucket(ids, splitters).tolist() == [0, 0, 1, 1, 2]
    assert crossing_bin(np.array([1, 1, 1]), 3) is None
    assert crossing_bin(np.array([5, 1]), 4) == 0
