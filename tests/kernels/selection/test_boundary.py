"""Finding the cutoff (kernels/selection/boundary.py) through a backend, as the job does."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.kernels.selection import (KEEP_ALL, ArrayBackend, Cutoff, cut_sorted_rows,
                                         find_cutoff, key_bin_stats)


def _backend(key, docid, tokens, parts=2):
    key, docid, tokens = np.asarray(key, float), np.asarray(docid), np.asarray(tokens)
    return ArrayBackend([(key[i::parts], docid[i::parts], tokens[i::parts]) for i in range(parts)])


def test_a_budget_covering_the_pool_keeps_every_row():
    first = key_bin_stats([0.1, 0.2], [1, 1], 0.1, 0.2, 4)
    result = find_cutoff(_backend([0.1, 0.2], ["a", "b"], [1, 1]), first, 10, 4)
    assert result.cutoff == KEEP_ALL and result.cutoff.keeps_all and result.boundary_bin == 4


def test_one_repeated_key_is_split_on_docid():
    n = 200
    key, docid, tokens = np.full(n, 0.5), np.array([f"d{i:03d}" for i in range(n)]), np.ones(n)
    first = key_bin_stats(key, tokens, 0.5, 0.5, 4)
    result = find_cutoff(_backend(key, docid, tokens), first, 57, n_bins=4, max_rows=10)
    assert result.rounds >= 1 and result.boundary_rows <= 10
    kept = np.flatnonzero(result.cutoff.mask(key, docid))
    assert kept.tolist() == list(range(57))  # budget 57 of one-token rows, in docid order


def test_cut_inside_the_boundary_rows():
    assert cut_sorted_rows([0.1, 0.1], ["b", "a"], [2, 2], 3, 4) == Cutoff(0.1, "b", False)
    assert cut_sorted_rows([0.1, 0.2], ["a", "b"], [1, 1], 5, 1) == Cutoff(0.2, "b", True)
    # Rows before the set exist: a first row over the budget is not kept.
    assert cut_sorted_rows([0.3], ["z"], [9], 2, 3) == Cutoff(0.3, "z", False)


def test_refinement_needs_two_bins():
    first = key_bin_stats([0.1, 0.2], [5, 5], 0.1, 0.2, 1)
    with pytest.raises(ValueError, match="at least 2 bins"):
        find_cutoff(_backend([0.1, 0.2], ["a", "b"], [5, 5]), first, 5, n_bins=1)
