"""Scoring (kernels/scoring.py) against plain per-document reference code."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _packed_column(nags, n_neurons: int):
    """``nags`` packed as extraction stores them: ``(bytes, row starts, bits)``."""
    from nag_spark.kernels.packing import needed_bits, pack_rows, stored_bits

    bits = stored_bits(nags.shape[1], needed_bits(n_neurons))
    rows = pack_rows(nags, bits)
    return rows.ravel(), np.arange(len(rows), dtype=np.int64) * rows.shape[1], bits


@settings(max_examples=60, deadline=None)
@given(L=st.integers(1, 6), K=st.integers(1, 9), N=st.sampled_from([2, 7, 40, 255, 300, 6144, 70000]),
       power=st.sampled_from([0.5, 1.0, 2.0]), rows=st.integers(0, 40), seed=st.integers(0, 2**16))
def test_packed_rows_score_bit_for_bit_as_their_unpacked_indices(L, K, N, power, rows, seed):
    """The one-pass scoring of packed rows (:meth:`distances_packed`) gives the distances,
    bit for bit, of unpacking the rows first and scoring the indices; at any bit count
    and row width (whole groups of eight indices or not)."""
    from nag_spark.kernels.packing import unpack_rows
    from nag_spark.kernels.scoring import ProfileSetScorer

    rng = np.random.default_rng(seed)
    profile = TargetProfile.from_nags(rng.integers(0, N, (3, L * K)), L, K, N, "all", power)
    data, starts, bits = _packed_column(rng.integers(0, N, (rows, L * K)), N)
    scorer = ProfileSetScorer([profile])
    assert scorer.scores_packed(bits)
    [got] = scorer.distances_packed(data, starts, bits)
    [want] = scorer.distances(unpack_rows(data, starts, L * K, bits))
    assert got.tobytes() == want.tobytes()


def test_packed_rows_are_refused_past_the_neuron_count_without_reading_past_the_weights():
    """An index the bits hold but the neuron count does not (a pool of another model) is
    refused as the unpacked path refuses it, however large (the weights are padded for
    the whole bit range, so scoring it first reads zeros, not foreign memory)."""
    from nag_spark.kernels.scoring import ProfileSetScorer

    rng = np.random.default_rng(14)
    L, K, N = 3, 4, 300  # 9 bits: indices up to 511 fit
    profiles = [TargetProfile.from_nags(random_nags(rng, 5, L, K, N), L, K, N)]
    bad = random_nags(rng, 10, L, K, N).astype(np.int64)
    bad[7, -1] = 511
    data, starts, bits = _packed_column(bad, 512)
    assert bits == 9
    with pytest.raises(InputError, match=r"\[0, 300\).*found \[0, 511\]"):
        ProfileSetScorer(profiles).distances_packed(data, starts, bits)


def test_packed_rows_for_several_profiles_a_layer_subset_or_past_25_bits_unpack_first():
    from nag_spark.kernels.scoring import ProfileSetScorer

    rng = np.random.default_rng(15)
    L, K, N = 4, 3, 30
    target = random_nags(rng, 10, L, K, N)
    whole = ProfileSetScorer([TargetProfile.from_nags(target, L, K, N)])
    assert whole.scores_packed(5)
    assert not whole.scores_packed(26)  # past the constant-shift kernels
    assert not ProfileSetScorer([TargetProfile.from_nags(target, L, K, N, "last")]).scores_packed(5)
    two = TargetProfile.from_nags(target[:5], L, K, N)
    assert not ProfileSetScorer([two, two]).scores_packed(5)
