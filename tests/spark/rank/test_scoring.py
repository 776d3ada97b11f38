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
