"""The sequential definition (kernels/selection/budget.py) against pandas, and its edges."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kernel_references import pandas_reference  # noqa: E402

from nag_spark.errors import InputError  # noqa: E402
from nag_spark.kernels.selection import (check_fraction, key_order,  # noqa: E402
                                         select_by_token_budget, token_budget)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_bad_fraction(fraction):
    with pytest.raises(InputError, match="fraction"):
        check_fraction(fraction)


def test_sequential_reference_matches_pandas_and_edges():
    # first row alone exceeds the budget: it is still kept
    s = select_by_token_budget([0.1, 0.2], ["a", "b"], [100, 1], 0.5)
    assert s.order.tolist() == [0]
    # fraction 1 keeps everything; equal distances order by docid
    s = select_by_token_budget([0.5] * 4, ["d", "b", "c", "a"], [1, 2, 3, 4], 1.0)
    assert s.order.tolist() == [3, 1, 2, 0] and s.cum_tokens.tolist() == [4, 6, 9, 10]
    assert token_budget(10, 0.25) == 2


def test_random_pools_match_pandas_and_an_empty_pool_keeps_nothing():
    rng = np.random.default_rng(5)
    for _ in range(30):
        n = int(rng.integers(1, 80))
        key = rng.integers(0, 4, n) / 3.0
        docid = np.array([f"d{v:03d}" for v in rng.permutation(n)])
        tokens = rng.integers(0, 30, n)
        fraction = float(rng.uniform(0.01, 1.0))
        idx, cum = pandas_reference(key, docid, tokens, fraction)
        s = select_by_token_budget(key, docid, tokens, fraction)
        assert s.order.tolist() == idx.tolist() and s.cum_tokens.tolist() == cum.tolist()
    empty = select_by_token_budget([], [], [], 0.5)
    assert len(empty.order) == 0 and empty.budget == 0


def test_key_order_breaks_ties_by_code_point_like_spark():
    # Spark orders strings by their UTF-8 bytes: upper case before lower case, "é" last.
    assert key_order([0.5, 0.5, 0.5, 0.1], ["b", "B", "é", "z"]).tolist() == [3, 1, 0, 2]
