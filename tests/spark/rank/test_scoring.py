"""Scoring in Spark (spark/rank/scoring.py): the kernel's distances, one column per target."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402

from rank_fixtures import K, L, N, synthetic_pool  # noqa: E402

from nag_spark.kernels.profile import TargetProfile  # noqa: E402
from nag_spark.kernels.scoring import ProfileScorer  # noqa: E402
from nag_spark.spark.rank.scoring import key_names, score_frame  # noqa: E402


def test_each_profile_scores_its_own_column_as_the_kernel_does(spark):
    pdf = synthetic_pool(120, seed=9)
    df = spark.createDataFrame(
        [(r.docid, int(r.token_num), [int(v) for v in r.fwd_up]) for r in pdf.itertuples()],
        "docid string, token_num long, fwd_up array<short>").repartition(3)
    nags = np.stack(pdf.fwd_up.to_numpy())
    profiles = [TargetProfile.from_nags(nags[:20], L, K, N),
                TargetProfile.from_nags(nags[20:50], L, K, N, "last", 2.0)]
    keys = key_names(2)
    assert keys == ["_nag_d0", "_nag_d1"]
    got = score_frame(df, "fwd_up", profiles, keys, ["docid", "token_num"]).toPandas()
    assert got.columns.tolist() == ["docid", "token_num", "_nag_d0", "_nag_d1"]  # no NAGs
    got = got.set_index("docid").loc[pdf.docid]
    for key, prof in zip(keys, profiles):
        assert np.array_equal(got[key].to_numpy(), ProfileScorer(prof).distance(nags))  # bit for bit


def test_packed_and_list_columns_give_the_same_distances_whichever_path_scores_them():
    """A packed column that every profile scores whole goes through the one-pass packed
    kernel; a layer subset, an index prefix (``--top-k``) and list columns are decoded
    first. Every way gives each row the distances of its own indices, bit for bit, in
    chunked, sliced and multi-target columns alike (and nulls are refused by name)."""
    import pyarrow as pa
    import pytest

    from nag_spark.errors import InputError
    from nag_spark.kernels.scoring import ProfileSetScorer
    from nag_spark.spark.rank.scoring import nag_distances
    from nag_spark.kernels.packing import needed_bits
    from nag_spark.tables.nag_codec import encode_nags

    rng = np.random.default_rng(21)
    nags = rng.integers(0, N, (3000, L * K))
    packed = encode_nags(nags, np.ones(len(nags), bool), f"bits{needed_bits(N)}")
    lists = pa.array(nags.tolist(), pa.list_(pa.int16()))
    for layers, k, n_profiles in [("all", K, 1), ("all", K, 3), ("last", K, 2), ("all", K - 1, 1)]:
        profiles = [TargetProfile.from_nags(rng.integers(0, N, (10, L * k)), L, k, N, layers)
                    for _ in range(n_profiles)]
        scorer = ProfileSetScorer(profiles)
        prefix = nags.reshape(-1, L, K)[:, :, :k].reshape(len(nags), L * k)
        want = [ProfileScorer(p).distance(prefix) for p in profiles]
        for column in (packed, lists, pa.chunked_array([packed.slice(0, 1000), packed.slice(1000)]),
                       packed.slice(5)):
            offset = len(nags) - len(column)
            got = nag_distances(column, scorer, L, K, k, "fwd_up")
            for g, w in zip(got, want):
                assert g.tobytes() == w[offset:].tobytes()
    with pytest.raises(InputError, match="'fwd_up' has null NAGs"):
        nag_distances(pa.array([bytes(packed[0].as_py()), None]), scorer, L, K, K, "fwd_up")
