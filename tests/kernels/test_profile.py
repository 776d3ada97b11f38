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


# ------------------------------------------------------------ weightings and top-k

from nag_spark.kernels.profile import (  # noqa: E402
    PoolFrequencies, check_top_k, check_weighting, contrastive_weights, nag_prefix, neuron_counts,
)


def _plain_contrastive(target, pool, L, K, N, weighting, a=1.0):
    """The weighting formulas neuron by neuron (the docstring, literally)."""
    T, P = len(target), len(pool)
    s = np.zeros((L, N))
    for l in range(L):
        for n in range(N):
            ct = sum(int(n in row[l * K:(l + 1) * K]) for row in target)
            cp = sum(int(n in row[l * K:(l + 1) * K]) for row in pool)
            if weighting == "log-ratio":
                lr = np.log((ct + a) / (T * K + a * N)) - np.log((cp + a) / (P * K + a * N))
                s[l, n] = max(0.0, lr) if ct > 0 else 0.0
            else:
                s[l, n] = ct / T * max(0.0, np.log(P / (1 + cp)))
    return s


def test_contrastive_weighting_downweights_a_neuron_frequent_in_target_and_pool():
    # One layer, K = 2, N = 4: neuron 0 is in every target NAG and in most pool NAGs;
    # neuron 2 is in one target NAG and in no pool NAG.
    target = np.array([[0, 1], [0, 2], [0, 1]])
    pool_nags = np.array([[0, 3], [0, 3], [0, 1], [3, 1], [0, 3]])
    pool = PoolFrequencies.from_nags(pool_nags, 1, 2, 4)
    paper = TargetProfile.from_nags(target, 1, 2, 4).weights[0]
    for weighting in ("log-ratio", "tfidf"):
        w = TargetProfile.from_nags(target, 1, 2, 4, weighting=weighting, pool=pool).weights[0]
        assert paper[0] == paper.max() and w[0] < paper[0] / 2, (weighting, w)
        assert w[2] == w.max() > paper[2], (weighting, w)
        assert w[3] == 0.0 and np.isclose(w.sum(), 1.0)


@pytest.mark.parametrize("weighting", ["log-ratio", "tfidf"])
@pytest.mark.parametrize("layers,power", [("all", 1.0), ("last", 2.0), ("0,2", 0.5)])
def test_contrastive_profiles_match_the_formulas(weighting, layers, power):
    rng = np.random.default_rng(5)
    L, K, N = 3, 4, 12
    target, pool_nags = random_nags(rng, 15, L, K, N), random_nags(rng, 60, L, K, N)
    pool = PoolFrequencies.from_nags(pool_nags, L, K, N)
    assert pool.n_docs == 60 and pool.counts.sum() == 60 * L * K
    prof = TargetProfile.from_nags(target, L, K, N, layers, power, weighting, pool)
    raw = _plain_contrastive(target, pool_nags, L, K, N, weighting) ** power
    chosen = resolve_layers(layers, L)
    want = np.zeros((L, N))
    for l in chosen:
        want[l] = raw[l] / raw[l].sum()
    np.testing.assert_allclose(prof.weights, want, rtol=1e-12, atol=1e-15)
    assert prof.weighting == weighting and prof.layers == chosen
    plain = TargetProfile.from_nags(target, L, K, N, layers, power)
    assert prof.digest() != plain.digest()


def test_weighting_round_trips_and_old_profiles_load_as_paper(tmp_path):
    rng = np.random.default_rng(2)
    nags = random_nags(rng, 8, 2, 3, 10)
    pool = PoolFrequencies.from_nags(random_nags(rng, 30, 2, 3, 10), 2, 3, 10)
    prof = TargetProfile.from_nags(nags, 2, 3, 10, weighting="tfidf", pool=pool)
    back = TargetProfile.load(prof.save(tmp_path / "p.npz"))
    assert back.weighting == "tfidf" and back.digest() == prof.digest()
    old = tmp_path / "old.npz"
    with open(old, "wb") as fh:  # what releases before the weightings saved
        np.savez(fh, weights=prof.weights, layers=np.arange(2), top_k=np.int64(3),
                 power=np.float64(1.0), n_targets=np.int64(8))
    assert TargetProfile.load(old).weighting == "paper"


def test_a_layer_with_only_generic_neurons_gets_a_zero_row_and_all_generic_is_refused():
    # Layer 0: the target's neurons are as frequent in the pool; layer 1: neuron 3 is not.
    target = np.array([[0, 1, 2, 3]])
    pool = PoolFrequencies(np.array([[5, 5, 0, 0], [5, 5, 5, 0]]), n_docs=5, top_k=2)
    w = TargetProfile.from_nags(target, 2, 2, 4, weighting="tfidf", pool=pool).weights
    assert w[0].tolist() == [0.0] * 4 and w[1].tolist() == [0.0, 0.0, 0.0, 1.0]
    with pytest.raises(InputError, match="no neuron of the scored layers"):
        TargetProfile.from_nags(target, 2, 2, 4, "first", weighting="tfidf", pool=pool)


def test_weighting_and_top_k_refusals():
    with pytest.raises(InputError, match="--profile-weighting 'bm25'"):
        check_weighting("bm25")
    with pytest.raises(InputError, match="pool's neuron counts are needed"):
        TargetProfile.from_nags(np.array([[0, 1]]), 1, 2, 3, weighting="log-ratio")
    with pytest.raises(InputError, match="same --top-k"):
        TargetProfile.from_nags(np.array([[0, 1]]), 1, 2, 3, weighting="log-ratio",
                                pool=PoolFrequencies(np.ones((1, 3), np.int64), 4, 3))
    with pytest.raises(InputError, match="pool has no rows"):
        contrastive_weights(np.ones((1, 3)), 1, PoolFrequencies(np.zeros((1, 3), np.int64), 0, 2),
                            "tfidf")
    for bad in (0, 21, -3, 2.5):
        with pytest.raises(InputError, match=r"--top-k .*\[1, 20\].*K = 20"):
            check_top_k(bad, 20)
    assert check_top_k(20, 20) == 20 and check_top_k(None, 7) == 7


def test_top_k_prefix_profile_equals_the_profile_of_shorter_nags():
    rng = np.random.default_rng(9)
    L, K, N, k = 3, 6, 30, 2
    nags = random_nags(rng, 25, L, K, N)
    short = np.concatenate([nags[:, l * K:l * K + k] for l in range(L)], axis=1)
    assert np.array_equal(nag_prefix(nags, L, K, k), short)
    assert nag_prefix(nags, L, K, K) is nags
    a = TargetProfile.from_nags(nag_prefix(nags, L, K, k), L, k, N)
    b = TargetProfile.from_nags(short, L, k, N)
    assert a.weights.tobytes() == b.weights.tobytes() and a.digest() == b.digest()
    assert np.array_equal(neuron_counts(short, L, k, N).sum(axis=1), [25 * k] * L)
