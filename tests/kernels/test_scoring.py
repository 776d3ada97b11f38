"""Scoring (kernels/scoring.py) against plain per-document reference code."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from kernel_references import random_nags, reference_distance, reference_profile  # noqa: E402

from nag_spark.errors import InputError  # noqa: E402
from nag_spark.kernels.profile import TargetProfile, resolve_layers  # noqa: E402
from nag_spark.kernels.scoring import ProfileScorer  # noqa: E402


@pytest.mark.parametrize("layers,power", [("all", 1.0), ("last", 1.0), ("first", 2.0),
                                          ("0,2", 0.5), ([1, 3], 1.0)])
def test_profile_and_scores_match_reference(layers, power):
    rng = np.random.default_rng(7)
    L, K, N = 4, 5, 40
    target, pool = random_nags(rng, 30, L, K, N), random_nags(rng, 200, L, K, N)
    prof = TargetProfile.from_nags(target, L, K, N, layers, power)
    chosen = resolve_layers(layers, L)
    np.testing.assert_allclose(prof.weights, reference_profile(target, L, K, N, chosen, power),
                               rtol=0, atol=1e-15)
    got = ProfileScorer(prof).distance(pool)
    np.testing.assert_allclose(got, reference_distance(pool, prof.weights, chosen, K),
                               rtol=0, atol=1e-12)


def test_scores_do_not_depend_on_batching():
    rng = np.random.default_rng(3)
    prof = TargetProfile.from_nags(random_nags(rng, 20, 3, 4, 30), 3, 4, 30)
    pool = random_nags(rng, 3000, 3, 4, 30)
    whole = ProfileScorer(prof).distance(pool)
    parts = np.concatenate([ProfileScorer(prof).distance(pool[i:i + 77]) for i in range(0, 3000, 77)])
    assert np.array_equal(whole, parts)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.uint16])
def test_scores_same_for_every_index_dtype_and_memory_layout(dtype):
    rng = np.random.default_rng(11)
    L, K, N = 3, 4, 30
    prof = TargetProfile.from_nags(random_nags(rng, 20, L, K, N), L, K, N, "0,2")
    pool = random_nags(rng, 300, L, K, N)
    expected = reference_distance(pool, prof.weights, (0, 2), K)
    typed = pool.astype(dtype)
    np.testing.assert_allclose(ProfileScorer(prof).distance(typed), expected, rtol=0, atol=1e-12)
    # A Fortran-ordered or strided view (e.g. a column slice of a wider array) scores the same.
    assert np.array_equal(ProfileScorer(prof).distance(np.asfortranarray(typed)),
                          ProfileScorer(prof).distance(typed))
    wide = np.concatenate([typed, typed], axis=1)[:, :L * K]
    assert np.array_equal(ProfileScorer(prof).distance(wide), ProfileScorer(prof).distance(typed))


def test_bad_scorer_inputs():
    prof = TargetProfile.from_nags(np.array([[0, 1, 2, 3]]), 2, 2, 5)
    with pytest.raises(InputError, match="disagree"):
        ProfileScorer(prof).distance(np.array([[0, 1, 2, 7]]))
    with pytest.raises(InputError, match=r"found \[-1, 3\]"):
        ProfileScorer(prof).distance(np.array([[0, 1, 2, 3], [0, -1, 2, 3]], dtype=np.int16))
    with pytest.raises(InputError, match="integers"):
        ProfileScorer(prof).distance(np.array([[0.0, 1, 2, 3]]))
    with pytest.raises(InputError, match="L\\*K"):
        ProfileScorer(prof).distance(np.array([[0, 1, 2]]))


@pytest.mark.parametrize("n_profiles", [1, 2, 4, 5])
@pytest.mark.parametrize("layers", ["all", "0,2"])
def test_a_profile_set_scores_each_profile_bit_for_bit_like_its_own_scorer(n_profiles, layers):
    from nag_spark.kernels.scoring import ProfileSetScorer

    rng = np.random.default_rng(11)
    L, K, N = 4, 5, 40
    profiles = [TargetProfile.from_nags(random_nags(rng, 20 + i, L, K, N), L, K, N, layers,
                                        1.0 + i / 2) for i in range(n_profiles)]
    pool = random_nags(rng, 500, L, K, N).astype(np.uint16)
    got = ProfileSetScorer(profiles).distances(pool)
    assert len(got) == n_profiles
    for prof, dist in zip(profiles, got):
        assert np.array_equal(dist, ProfileScorer(prof).distance(pool))  # bit for bit
    assert all(len(d) == 0 for d in ProfileSetScorer(profiles).distances(pool[:0]))


def test_a_profile_set_with_different_layers_scores_each_on_its_own_layers():
    from nag_spark.kernels.scoring import ProfileSetScorer

    rng = np.random.default_rng(12)
    L, K, N = 4, 3, 30
    target = random_nags(rng, 25, L, K, N)
    profiles = [TargetProfile.from_nags(target, L, K, N, "last"),
                TargetProfile.from_nags(target, L, K, N, "all")]
    pool = random_nags(rng, 100, L, K, N)
    scorer = ProfileSetScorer(profiles)
    assert not scorer.groups  # no shared pass over different columns
    for prof, dist in zip(profiles, scorer.distances(pool)):
        assert np.array_equal(dist, ProfileScorer(prof).distance(pool))


def test_a_profile_set_refuses_indices_beyond_the_neuron_count_once_for_all():
    from nag_spark.kernels.scoring import ProfileSetScorer

    rng = np.random.default_rng(13)
    profiles = [TargetProfile.from_nags(random_nags(rng, 5, 2, 2, 3), 2, 2, 3) for _ in range(3)]
    with pytest.raises(InputError, match=r"\[0, 3\).*found \[0, 7\]"):
        ProfileSetScorer(profiles).distances(np.array([[0, 1, 2, 7]], np.uint16))
    with pytest.raises(InputError, match="L\\*K = 4"):
        ProfileSetScorer(profiles).distances(np.array([[0, 1, 2]]))
