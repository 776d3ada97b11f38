"""The composition figure caps the legend and refuses an empty selection."""
from __future__ import annotations

import pytest

from nag_spark.plots import plot_composition


def test_composition_caps_datasets(tmp_path, is_png):
    pool = {f"source_{i:02d}": 1000 - 10 * i for i in range(30)}
    sel = {"hellaswag": {"source_00": 5, "source_29": 50}, "arc": {"source_03": 10}}
    assert is_png(plot_composition(pool, sel, tmp_path / "c.png", max_datasets=10))
    assert is_png(plot_composition(None, sel, tmp_path / "d.png"))
    with pytest.raises(ValueError):
        plot_composition(None, {}, tmp_path / "e.png")
