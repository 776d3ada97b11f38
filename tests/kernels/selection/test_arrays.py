"""The distributed pieces run on arrays (kernels/selection/arrays.py) equal the sequential
definition, whatever the partitioning, bins, boundary size and group size."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kernel_references import pandas_reference  # noqa: E402

from nag_spark.kernels.selection import select_by_token_budget, select_partitioned  # noqa: E402


def test_distributed_pieces_equal_sequential_with_many_ties():
    rng = np.random.default_rng(20260401)
    for trial in range(120):
        n = int(rng.integers(1, 300))
        docid = np.unique([f"d{v}" for v in rng.integers(0, 10**6, n)])
        rng.shuffle(docid)
        n = len(docid)
        key = rng.integers(0, int(rng.integers(1, 5)), n) / 3.0  # few distinct values: ties
        tokens = rng.integers(0, 40, n)
        if trial % 4 == 0:
            tokens[rng.integers(0, n)] = 10**5  # a huge document somewhere
        fraction = float(rng.choice([0.001, 0.05, 0.2, 0.5, 1.0, rng.uniform(0.01, 1)]))
        ref_idx, ref_cum = pandas_reference(key, docid, tokens, fraction)
        seq = select_by_token_budget(key, docid, tokens, fraction)
        assert np.array_equal(seq.order, ref_idx) and np.array_equal(seq.cum_tokens, ref_cum)
        for parts in (1, 2, 5):
            dist = select_partitioned(key, docid, tokens, fraction, parts,
                                      n_bins=int(rng.choice([2, 5, 64])),
                                      max_rows=int(rng.choice([1, 4, 10**6])),
                                      rows_per_group=int(rng.choice([1, 7, 10**6])), seed=trial)
            assert np.array_equal(dist.order, ref_idx), (trial, parts)
            assert np.array_equal(dist.cum_tokens, ref_cum), (trial, parts)
