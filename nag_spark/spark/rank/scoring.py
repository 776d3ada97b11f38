"""Scoring a features DataFrame against broadcast target profiles with ``mapInArrow``.

Each Arrow batch's NAG column (``list<int16|int32>``, all lists of length L*K) is viewed
as a ``(D, L*K)`` numpy array without copying, and every target's
:class:`~nag_spark.kernels.scoring.ProfileScorer` scores it with one gather and a sum.
The profiles travel once per executor as a broadcast variable, not inside each task.
With ``--top-k k`` below the features' K, each batch is cut to the first k indices of every
layer (:func:`~nag_spark.kernels.profile.nag_prefix`) before scoring.
"""
from __future__ import annotations

from typing import Sequence

import pyarrow as pa

from ...kernels.profile import TargetProfile, nag_prefix
from ...kernels.scoring import ProfileScorer
from ...tables.features import decode_nags


def key_names(n: int) -> list[str]:
    """Internal column names of the distances to ``n`` targets (dropped before writing)."""
    return [f"_nag_d{i}" for i in range(n)]


def score_frame(df, feature_col: str, profiles: Sequence[TargetProfile], key_cols: Sequence[str],
                keep_cols: Sequence[str], stored_top_k: int | None = None):
    """Add one ``nag_distance`` column per profile; drop the NAG column.

    Parameters
    ----------
    df : DataFrame
        Has ``feature_col`` and ``keep_cols``.
    feature_col : str
        The neuron-type column (array of L*K indices).
    profiles : sequence of TargetProfile
        One per target, same L, K, N.
    key_cols : sequence of str
        Output column name of each profile's distance.
    keep_cols : sequence of str
        Columns passed through unchanged.
    stored_top_k : int, optional
        K of the features, when the profiles score only their first ``top_k`` indices
        per layer (default: the profiles' ``top_k``, all of them).
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    spark = df.sparkSession
    payload = [(p.weights, p.layers, p.top_k, p.power, p.n_targets, p.weighting)
               for p in profiles]
    broadcast = spark.sparkContext.broadcast(payload)
    num_layers, k = profiles[0].num_layers, profiles[0].top_k
    stored_k = k if stored_top_k is None else int(stored_top_k)
    width = num_layers * stored_k
    keep = list(keep_cols)
    schema = StructType([df.schema[c] for c in keep]
                        + [StructField(k, DoubleType(), False) for k in key_cols])

    def score(batches):
        scorers = [ProfileScorer(TargetProfile(*item)) for item in broadcast.value]
        for batch in batches:
            nags = nag_prefix(decode_nags(batch.column(feature_col), width, feature_col),
                              num_layers, stored_k, k)
            cols = [batch.column(c) for c in keep]
            cols += [pa.array(s.distance(nags), pa.float64()) for s in scorers]
            yield pa.RecordBatch.from_arrays(cols, names=keep + list(key_cols))

    return df.select(*keep, feature_col).mapInArrow(score, schema)
