"""The key a target's selection orders by: its distance, or the paper's quality blend.

With a quality column the key is ``combined_score`` = min-max normalised distance +
min-max normalised quality (inverted when higher is better), evaluated as Spark column
arithmetic identical to :func:`nag_spark.kernels.selection.blend_quality`, so the two agree
bit for bit.
"""
from __future__ import annotations

from typing import Sequence

from .options import RankOptions
from .pool import key_bounds


def normalised(col: str, lo: float, hi: float, invert: bool = False):
    """Spark expression of :func:`nag_spark.kernels.selection.minmax_normalise`."""
    from pyspark.sql import functions as F

    # Same arithmetic as kernels.selection.minmax_normalise, so results match bit for bit.
    span = hi - lo
    out = (F.col(col) - F.lit(lo)) / F.lit(span) if span > 0 else F.lit(0.0)
    return F.lit(1.0) - out if invert else out


def order_key(scored, key: str, keys: Sequence[str], stats: dict, opts: RankOptions):
    """``(frame, order column, (lo, hi))`` of one target: the frame has ``nag_distance``
    (its distance ``key``), ``combined_score`` with a quality blend, and no distance
    column of any target; ``lo``/``hi`` bound the order column over the pool."""
    from pyspark.sql import functions as F

    lo, hi = key_bounds(stats, key)
    frame = scored.withColumn("nag_distance", F.col(key))
    order_col = "nag_distance"
    if opts.quality_col:
        frame = frame.withColumn(
            "combined_score", normalised("nag_distance", lo, hi)
            + normalised("quality", float(stats["q_lo"]), float(stats["q_hi"]),
                         opts.invert_quality))
        order_col = "combined_score"
        # Bounds of the blend itself, for the histogram: one small aggregation.
        b = frame.agg(F.min(order_col), F.max(order_col)).collect()[0]
        lo, hi = float(b[0]), float(b[1])
    return frame.drop(*keys), order_col, (lo, hi)
