"""Target profiles (kernels/profile.py): layer subsets, round trip, digest, bad inputs."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from kernel_references import random_nags  # noqa: E402

from nag_spark.errors import InputError  # noqa: E402
from nag_spark.kernels.profile import TargetProfile, layers_label, resolve_layers  # noqa: E402


def test_profile_roundtrip_and_digest(tmp_path):
    rng = np.random.default_rng(1)
    prof = TargetProfile.from_nags(random_nags(rng, 10, 3, 2, 9), 3, 2, 9, "0,2", 1.5)
    back = TargetProfile.load(prof.save(tmp_path / "p.npz"))
    assert np.array_equal(back.weights, prof.weights) and back.layers == (0, 2)
    assert back.digest() == prof.digest()
    other = TargetProfile.from_nags(random_nags(rng, 10, 3, 2, 9), 3, 2, 9)
    assert other.digest() != prof.digest()
    assert layers_label(prof.layers, 3) == "0,2"


@pytest.mark.parametrize("bad", ["7", "a,b", "", "-1"])
def test_bad_layers(bad):
    with pytest.raises(InputError, match="layers"):
        resolve_layers(bad if bad else " ,", 4)


def test_bad_profile_inputs():
    with pytest.raises(InputError, match="no rows"):
        TargetProfile.from_nags(np.zeros((0, 4), int), 2, 2, 5)
    with pytest.raises(InputError, match=r"\[0, 5\)"):
        TargetProfile.from_nags(np.array([[0, 1, 2, 9]]), 2, 2, 5)
