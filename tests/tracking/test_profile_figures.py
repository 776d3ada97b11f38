"""The profiles' files drawn on a driver thread while a ranking scans (tracking/profile_figures.py)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

import nag_spark.plots as plots
from nag_spark.kernels.profile import TargetProfile
from nag_spark.tracking.profile_figures import draw_profiles, profile_figures


def _profile(seed):
    nags = np.random.default_rng(seed).integers(0, 64, size=(5, 3 * 4))
    return TargetProfile.from_nags(nags, num_layers=3, top_k=4, n_neurons=64)


def test_the_files_are_drawn_off_the_calling_thread_and_removed_at_the_end(monkeypatch):
    drawn_on, real = [], plots.plot_profile_heatmap

    def spy(*args, **kwargs):
        drawn_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(plots, "plot_profile_heatmap", spy)
    profiles = [_profile(1), _profile(2)]
    with profile_figures(["hellaswag", "dataset=books"], profiles, 3) as figures:
        files = figures.files()
        names = [(npz.name, png.name) for npz, png in files]
        assert names == [("profile.npz", "profile_heatmap.png"),
                         ("profile_dataset_books.npz", "profile_heatmap_dataset_books.png")]
        for (npz, png), p in zip(files, profiles):
            assert np.array_equal(np.load(npz)["weights"], p.weights)
            assert Image.open(png).size[0] > 100
    assert len(drawn_on) == 2 and all(n.startswith("nag-profile-figures") for n in drawn_on)
    assert not any(f.exists() for pair in files for f in pair)


def test_a_failing_block_still_waits_for_the_drawing_and_a_failed_drawing_is_raised(
        monkeypatch, tmp_path):
    started, release = threading.Event(), threading.Event()

    def slow_then_fail(*args, **kwargs):
        started.set()
        release.wait(5)
        raise RuntimeError("no font")

    monkeypatch.setattr(plots, "plot_profile_heatmap", slow_then_fail)
    with pytest.raises(KeyError):
        with profile_figures(["t"], [_profile(3)], 3):
            started.wait(5)
            threading.Timer(0.2, release.set).start()
            raise KeyError("the scan failed")
    assert release.is_set()  # the block ended only after the drawing did
    with pytest.raises(RuntimeError, match="no font"):
        with profile_figures(["t"], [_profile(3)], 3) as figures:
            release.set()
            figures.files()
    assert draw_profiles([], [], 3, tmp_path) == []
