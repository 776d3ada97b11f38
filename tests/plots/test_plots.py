"""The figures render to real PNGs from CONTRACT-shaped inputs, and refuse malformed ones."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.plots import (
    plot_composition,
    plot_distance_histogram,
    plot_distance_overlay,
    plot_jaccard,
    plot_nag_map,
    plot_profile_concentration,
    plot_profile_heatmap,
    profile_concentration,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == PNG_MAGIC


@pytest.fixture(scope="module")
def weights():
    rng = np.random.default_rng(0)
    counts = rng.zipf(1.7, size=(6, 300)).astype(float)
    return counts / counts.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def hist():
    rng = np.random.default_rng(1)
    edges = np.linspace(0.5, 1.0, 26)
    # 25 datasets: more than the legend cap, to exercise the "other" bucket.
    counts = {f"source_{i:02d}": np.histogram(rng.normal(0.8, 0.05, 50 + i), edges)[0].tolist()
              for i in range(25)}
    return {"edges": edges.tolist(), "counts": counts, "boundary": {"hellaswag": 0.78}}


def test_profile_figures(tmp_path, weights):
    assert _is_png(plot_profile_heatmap(weights, tmp_path / "h.png", top_n=12))
    assert _is_png(plot_profile_concentration(weights, tmp_path / "c.png", layers=[2, 3, 4, 5, 6, 7]))


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


def test_distance_histogram(tmp_path, hist):
    assert _is_png(plot_distance_histogram(hist, None, tmp_path / "a.png"))
    assert _is_png(plot_distance_histogram(hist, 0.7, tmp_path / "b.png", log_y=True))
    bad = dict(hist, counts={"x": [1, 2]})
    with pytest.raises(ValueError, match="'x' have 2 bins"):
        plot_distance_histogram(bad, None, tmp_path / "c.png")


def test_distance_overlay(tmp_path, hist):
    other = dict(hist, boundary={"arc": 0.75, "mmlu": 0.8})
    out = plot_distance_overlay({"run a": hist, "run b": other}, tmp_path / "o.png")
    assert _is_png(out)


def test_composition_caps_datasets(tmp_path):
    pool = {f"source_{i:02d}": 1000 - 10 * i for i in range(30)}
    sel = {"hellaswag": {"source_00": 5, "source_29": 50}, "arc": {"source_03": 10}}
    assert _is_png(plot_composition(pool, sel, tmp_path / "c.png", max_datasets=10))
    assert _is_png(plot_composition(None, sel, tmp_path / "d.png"))
    with pytest.raises(ValueError):
        plot_composition(None, {}, tmp_path / "e.png")


def test_jaccard_and_map(tmp_path):
    j = np.array([[1.0, 0.3], [0.3, 1.0]])
    assert _is_png(plot_jaccard({"docids": j, "tokens": j}, ["a", "b"], tmp_path / "j.png"))
    with pytest.raises(ValueError, match="shape"):
        plot_jaccard({"docids": j}, ["a", "b", "c"], tmp_path / "k.png")
    rng = np.random.default_rng(2)
    ds = [f"d{i % 25}" for i in range(200)]
    assert _is_png(plot_nag_map(rng.normal(size=(200, 2)), ds, tmp_path / "m.png",
                                is_target=[i % 25 == 0 for i in range(200)]))


def test_montage_keeps_every_tile(tmp_path, weights):
    from nag_spark.plots import plot_montage

    a = plot_profile_heatmap(weights, tmp_path / "a.png", top_n=5)
    b = plot_profile_concentration(weights, tmp_path / "b.png")
    assert _is_png(plot_montage([[a, b], [a]], tmp_path / "m.png", title="t"))
    with pytest.raises(ValueError):
        plot_montage([], tmp_path / "n.png")
