"""Profile figures render from (L, N) weights; concentration statistics are exact."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.plots import plot_profile_concentration, plot_profile_heatmap, profile_concentration


def test_profile_figures(tmp_path, weights, is_png):
    assert is_png(plot_profile_heatmap(weights, tmp_path / "h.png", top_n=12))
    assert is_png(plot_profile_concentration(weights, tmp_path / "c.png", layers=[2, 3, 4, 5, 6, 7]))


def test_profile_concentration_values():
    w = np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0, 0, 0, 0]])
    stats = profile_concentration(w, ks=(1, 2))
    np.testing.assert_allclose(stats["top1_share"], [1.0, 0.25, 0.0])
    np.testing.assert_allclose(stats["top2_share"], [1.0, 0.5, 0.0])
    # exp(entropy): one neuron -> 1, uniform over 4 -> 4, an empty layer -> 0.
    np.testing.assert_allclose(stats["effective_neurons"], [1.0, 4.0, 0.0])


def test_profile_rejects_bad_shape(tmp_path):
    with pytest.raises(ValueError, match=r"\(L, N\)"):
        plot_profile_heatmap(np.ones(5), tmp_path / "x.png")
