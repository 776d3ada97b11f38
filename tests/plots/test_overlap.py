"""The pairwise overlap (Jaccard) figure."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.plots import plot_jaccard


def test_jaccard(tmp_path, is_png):
    j = np.array([[1.0, 0.3], [0.3, 1.0]])
    assert is_png(plot_jaccard({"docids": j, "tokens": j}, ["a", "b"], tmp_path / "j.png"))
    with pytest.raises(ValueError, match="shape"):
        plot_jaccard({"docids": j}, ["a", "b", "c"], tmp_path / "k.png")
