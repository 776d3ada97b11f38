"""The quality blend and the multi-target mixture (kernels/selection/variants.py)."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.errors import InputError
from nag_spark.kernels.selection import (blend_quality, minmax_normalise, select_multi_target,
                                         split_fraction)


def test_quality_blend_and_multi_target_reference():
    d = np.array([0.2, 0.4, 0.3])
    q = np.array([1.0, 3.0, 2.0])
    got = blend_quality(d, q, (0.2, 0.4), (1.0, 3.0), invert_quality=True)
    np.testing.assert_allclose(got, [0.0 + 1.0, 1.0 + 0.0, 0.5 + 0.5])
    keys = {"a": np.array([0.1, 0.2, 0.3, 0.4]), "b": np.array([0.1, 0.4, 0.3, 0.2])}
    out = select_multi_target(keys, ["w", "x", "y", "z"], [1, 1, 1, 1], 1.0, dedupe=True)
    assert [o.order.tolist() for _, o in out] == [[0, 1], [3]]
    out = select_multi_target(keys, ["w", "x", "y", "z"], [1, 1, 1, 1], 1.0)
    assert [o.order.tolist() for _, o in out] == [[0, 1], [0, 3]]


def test_a_constant_column_normalises_to_zero():
    assert minmax_normalise([3.0, 3.0], 3.0, 3.0).tolist() == [0.0, 0.0]
    assert minmax_normalise([3.0, 3.0], 3.0, 3.0, invert=True).tolist() == [1.0, 1.0]


def test_split_fraction_needs_a_target_and_a_valid_fraction():
    assert split_fraction(0.3, 3) == pytest.approx(0.1)
    with pytest.raises(InputError, match="at least one target"):
        split_fraction(0.3, 0)
    with pytest.raises(InputError, match="fraction"):
        split_fraction(1.5, 2)
