"""Profile, scoring and selection kernels against plain per-document reference code."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.errors import InputError
from nag_spark.kernels.profile import TargetProfile, layers_label, resolve_layers
from nag_spark.kernels.scoring import ProfileScorer
from nag_spark.kernels.selection import (
    blend_quality, check_fraction, select_by_token_budget, select_multi_target,
    select_partitioned, token_budget,
)


def reference_profile(nags, L, K, N, layers, power):
    """Per layer, per target, per index: count, raise, normalise (the spec, literally)."""
    w = np.zeros((L, N))
    for layer in layers:
        counts = {}
        for row in nags:
            for k in range(K):
                n = int(row[layer * K + k])
                counts[n] = counts.get(n, 0) + 1
        total = sum(c ** power for c in counts.values())
        for n, c in counts.items():
            w[layer, n] = c ** power / total
    return w


def reference_distance(nags, w, layers, K):
    out = []
    for row in nags:
        s = 0.0
        for layer in layers:
            for k in range(K):
                s += w[layer, int(row[layer * K + k])]
        out.append(1.0 - s / len(layers))
    return np.array(out)


def random_nags(rng, n, L, K, N):
    return np.stack([np.concatenate([rng.choice(N, K, replace=False) for _ in range(L)])
                     for _ in range(n)]).astype(np.int16)


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
    prof = TargetProfile.from_nags(np.array([[0, 1, 2, 3]]), 2, 2, 5)
    with pytest.raises(InputError, match="disagree"):
        ProfileScorer(prof).distance(np.array([[0, 1, 2, 7]]))
    with pytest.raises(InputError, match=r"found \[-1, 3\]"):
        ProfileScorer(prof).distance(np.array([[0, 1, 2, 3], [0, -1, 2, 3]], dtype=np.int16))
    with pytest.raises(InputError, match="integers"):
        ProfileScorer(prof).distance(np.array([[0.0, 1, 2, 3]]))
    with pytest.raises(InputError, match="L\\*K"):
        ProfileScorer(prof).distance(np.array([[0, 1, 2]]))


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_bad_fraction(fraction):
    with pytest.raises(InputError, match="fraction"):
        check_fraction(fraction)


def pandas_reference(key, docid, tokens, fraction):
    import pandas as pd

    df = pd.DataFrame({"k": key, "d": docid, "t": tokens, "i": np.arange(len(key))})
    df = df.sort_values(["k", "d"]).reset_index(drop=True)
    budget = int(np.floor(fraction * df.t.sum()))
    cum = df.t.cumsum()
    n = max(1, int((cum <= budget).sum()))
    return df.i.to_numpy()[:n], cum.to_numpy()[:n]


def test_sequential_reference_matches_pandas_and_edges():
    # first row alone exceeds the budget: it is still kept
    s = select_by_token_budget([0.1, 0.2], ["a", "b"], [100, 1], 0.5)
    assert s.order.tolist() == [0]
    # fraction 1 keeps everything; equal distances order by docid
    s = select_by_token_budget([0.5] * 4, ["d", "b", "c", "a"], [1, 2, 3, 4], 1.0)
    assert s.order.tolist() == [3, 1, 2, 0] and s.cum_tokens.tolist() == [4, 6, 9, 10]
    assert token_budget(10, 0.25) == 2


def test_distributed_pieces_equal_sequential_with_many_ties():
    rng = np.random.default_rng(20260401)
    for trial in range(120):
        n = int(rng.integers(1, 300))
        docid = np.unique([f"d{v}" for v in rng.integers(0, 10**6, n)])
        rng.shuffle(docid)
        n = len(docid)
        key = rng.integers(0, int(rng.integers(1, 5)), n) / 3.0  # few distinct values: ties
        tokens = rng.integers(0, 40, n)
        if trial % 4 == 0:
            tokens[rng.integers(0, n)] = 10**5  # a huge document somewhere
        fraction = float(rng.choice([0.001, 0.05, 0.2, 0.5, 1.0, rng.uniform(0.01, 1)]))
        ref_idx, ref_cum = pandas_reference(key, docid, tokens, fraction)
        seq = select_by_token_budget(key, docid, tokens, fraction)
        assert np.array_equal(seq.order, ref_idx) and np.array_equal(seq.cum_tokens, ref_cum)
        for parts in (1, 2, 5):
            dist = select_partitioned(key, docid, tokens, fraction, parts,
                                      n_bins=int(rng.choice([2, 5, 64])),
                                      max_rows=int(rng.choice([1, 4, 10**6])),
                                      rows_per_group=int(rng.choice([1, 7, 10**6])), seed=trial)
            assert np.array_equal(dist.order, ref_idx), (trial, parts)
            assert np.array_equal(dist.cum_tokens, ref_cum), (trial, parts)


def test_quality_blend_and_multi_target_reference():
    d = np.array([0.2, 0.4, 0.3])
    q = np.array([1.0, 3.0, 2.0])
    got = blend_quality(d, q, (0.2, 0.4), (1.0, 3.0), invert_quality=True)
    np.testing.assert_allclose(got, [0.0 + 1.0, 1.0 + 0.0, 0.5 + 0.5])
    keys = {"a": np.array([0.1, 0.2, 0.3, 0.4]), "b": np.array([0.1, 0.4, 0.3, 0.2])}
    out = select_multi_target(keys, ["w", "x", "y", "z"], [1, 1, 1, 1], 1.0, dedupe=True)
    assert [o.order.tolist() for _, o in out] == [[0, 1], [3]]
    out = select_multi_target(keys, ["w", "x", "y", "z"], [1, 1, 1, 1], 1.0)
    assert [o.order.tolist() for _, o in out] == [[0, 1], [0, 3]]
