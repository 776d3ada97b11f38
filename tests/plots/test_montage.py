"""A montage keeps every tile."""
from __future__ import annotations

import pytest

from nag_spark.plots import plot_montage, plot_profile_concentration, plot_profile_heatmap


def test_montage_keeps_every_tile(tmp_path, weights, is_png):
    a = plot_profile_heatmap(weights, tmp_path / "a.png", top_n=5)
    b = plot_profile_concentration(weights, tmp_path / "b.png")
    assert is_png(plot_montage([[a, b], [a]], tmp_path / "m.png", title="t"))
    with pytest.raises(ValueError):
        plot_montage([], tmp_path / "n.png")
