"""Synthetic NAG features for the NAG map tests."""
from __future__ import annotations

import numpy as np
import pytest

L, K, N = 4, 3, 50


@pytest.fixture
def synthetic_features(spark):
    """Factory: a DataFrame of NAGs where each dataset favours its own neurons (clusters)."""

    def make(sizes: dict[str, int], seed: int = 0, prefix: str = ""):
        rng = np.random.default_rng(seed)
        rows = []
        for d, (name, n) in enumerate(sizes.items()):
            favoured = rng.choice(N, size=(L, 6), replace=False)
            for i in range(n):
                nag = [rng.choice(favoured[l], K, replace=False) for l in range(L)]
                rows.append((f"{prefix}{name}/{i}", name, [int(x) for x in np.concatenate(nag)]))
        return spark.createDataFrame(rows, "docid string, dataset string, fwd_up array<short>")

    return make
