"""The NAG map figure: many sources, targets marked."""
from __future__ import annotations

import numpy as np

from nag_spark.plots import plot_nag_map


def test_nag_map_figure(tmp_path, is_png):
    rng = np.random.default_rng(2)
    ds = [f"d{i % 25}" for i in range(200)]
    assert is_png(plot_nag_map(rng.normal(size=(200, 2)), ds, tmp_path / "m.png",
                               is_target=[i % 25 == 0 for i in range(200)]))
