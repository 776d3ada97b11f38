"""The order key (spark/rank/quality.py): the distance, or the quality blend computed as
the kernel computes it, bit for bit."""
from __future__ import annotations

import numpy as np
import pandas as pd

from nag_spark.kernels.selection import blend_quality
from nag_spark.spark.rank import RankOptions
from nag_spark.spark.rank.quality import order_key


def _scored(spark):
    rng = np.random.default_rng(12)
    pdf = pd.DataFrame({"docid": [f"d{i}" for i in range(50)], "_nag_d0": rng.uniform(0.3, 0.9, 50),
                        "_nag_d1": rng.uniform(0.1, 0.5, 50), "quality": rng.uniform(0, 5, 50)})
    stats = {"_nag_d0_lo": pdf._nag_d0.min(), "_nag_d0_hi": pdf._nag_d0.max(),
             "_nag_d1_lo": pdf._nag_d1.min(), "_nag_d1_hi": pdf._nag_d1.max(),
             "q_lo": pdf.quality.min(), "q_hi": pdf.quality.max()}
    return pdf, spark.createDataFrame(pdf), stats


def test_the_blend_equals_the_kernel_and_its_bounds_are_the_blends(spark):
    pdf, scored, stats = _scored(spark)
    opts = RankOptions(targets=["t"], pool="p", output="o", quality_col="quality",
                       invert_quality=True)
    frame, col, (lo, hi) = order_key(scored, "_nag_d1", ["_nag_d0", "_nag_d1"], stats, opts)
    got = frame.toPandas().set_index("docid").loc[pdf.docid]
    want = blend_quality(pdf._nag_d1, pdf.quality, (stats["_nag_d1_lo"], stats["_nag_d1_hi"]),
                         (stats["q_lo"], stats["q_hi"]), invert_quality=True)
    assert col == "combined_score" and np.array_equal(got.combined_score.to_numpy(), want)
    assert (lo, hi) == (want.min(), want.max())
    assert np.array_equal(got.nag_distance.to_numpy(), pdf._nag_d1.to_numpy())
    assert not {"_nag_d0", "_nag_d1"} & set(frame.columns)


def test_without_quality_the_key_is_the_distance(spark):
    pdf, scored, stats = _scored(spark)
    opts = RankOptions(targets=["t"], pool="p", output="o")
    frame, col, bounds = order_key(scored, "_nag_d0", ["_nag_d0", "_nag_d1"], stats, opts)
    assert col == "nag_distance" and bounds == (stats["_nag_d0_lo"], stats["_nag_d0_hi"])
    assert "combined_score" not in frame.columns
