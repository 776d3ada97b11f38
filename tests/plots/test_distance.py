"""Distance histograms (one run, by source) and the overlay of several runs."""
from __future__ import annotations

import pytest

from nag_spark.plots import plot_distance_histogram, plot_distance_overlay


def test_distance_histogram(tmp_path, hist, is_png):
    assert is_png(plot_distance_histogram(hist, None, tmp_path / "a.png"))
    assert is_png(plot_distance_histogram(hist, 0.7, tmp_path / "b.png", log_y=True))
    bad = dict(hist, counts={"x": [1, 2]})
    with pytest.raises(ValueError, match="'x' have 2 bins"):
        plot_distance_histogram(bad, None, tmp_path / "c.png")


def test_distance_overlay(tmp_path, hist, is_png):
    other = dict(hist, boundary={"arc": 0.75, "mmlu": 0.8})
    out = plot_distance_overlay({"run a": hist, "run b": other}, tmp_path / "o.png")
    assert is_png(out)
