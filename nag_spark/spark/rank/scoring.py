"""Scoring a features DataFrame against broadcast target profiles with ``mapInArrow``.

Each Arrow batch's NAG column (``list<int16|int32>``, all lists of length L*K) is viewed
as a ``(D, L*K)`` numpy array without copying, and the targets'
:class:`~nag_spark.kernels.scoring.ProfileSetScorer` scores it with one gather and a sum
per row for all of them.
The profiles travel once per executor as a broadcast variable, not inside each task.
With ``--top-k k`` below the features' K, each batch is cut to the first k indices of every
layer (:func:`~nag_spark.kernels.profile.nag_prefix`) before scoring.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

from ...kernels.profile import TargetProfile, nag_prefix
from ...kernels.scoring import ProfileSetScorer
from ...tables.nag_codec import decode_nags, packed_rows


# Rows decoded and scored at a time: the decoded indices of 1024 rows (1.1 MB at L=28,
# K=20) stay in cache while every target scores them; whole 50k-row groups went to memory
# and back (10% slower on one target, more with several).
DECODE_ROWS = 1024


def nag_distances(column, scorer: ProfileSetScorer, num_layers: int, stored_k: int,
                  k: int, name: str) -> list[np.ndarray]:
    """Each profile's ``nag_distance`` of the NAGs in ``column`` (an Arrow array or chunked
    array, packed or lists). Packed rows that every profile scores whole are scored as
    they are unpacked (:meth:`ProfileSetScorer.distances_packed`); others are decoded
    :data:`DECODE_ROWS` rows at a time. Scores do not depend on how the rows are cut or
    read (each row is summed alone, in column order)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = [np.empty(len(column), np.float64) for _ in scorer.scorers]
    width, at = num_layers * stored_k, 0
    for chunk in chunks:
        packed = _packed(chunk, scorer, width, name) if k == stored_k else None
        if packed is not None:
            for dist, got in zip(out, scorer.distances_packed(*packed)):
                dist[at:at + len(chunk)] = got
            at += len(chunk)
            continue
        for start in range(0, len(chunk), DECODE_ROWS):
            piece = chunk.slice(start, DECODE_ROWS)
            nags = nag_prefix(decode_nags(piece, width, name), num_layers, stored_k, k)
            for dist, got in zip(out, scorer.distances(nags)):
                dist[at:at + len(piece)] = got
            at += len(piece)
    return out


def _packed(chunk, scorer: ProfileSetScorer, width: int, name: str):
    """``(data, starts, bits)`` of a packed chunk the scorer reads whole, else None."""
    if not len(chunk) or chunk.null_count or not (pa.types.is_binary(chunk.type)
                                                  or pa.types.is_large_binary(chunk.type)):
        return None  # (decode_nags refuses nulls with its own message)
    packed = packed_rows(chunk, width, name)
    return packed if scorer.scores_packed(packed[2]) else None


def key_names(n: int) -> list[str]:
    """Internal column names of the distances to ``n`` targets (dropped before writing)."""
    return [f"_nag_d{i}" for i in range(n)]


def batch_scorer(spark, profiles: Sequence[TargetProfile], feature_col: str,
                  stored_top_k: int | None):
    """A factory, run once per task in the worker, of ``score(nag_column) -> distances``.

    The profiles travel once per executor as a broadcast variable, not inside each task."""
    payload = [(p.weights, p.layers, p.top_k, p.power, p.n_targets, p.weighting)
               for p in profiles]
    broadcast = spark.sparkContext.broadcast(payload)
    num_layers, k = profiles[0].num_layers, profiles[0].top_k
    stored_k = k if stored_top_k is None else int(stored_top_k)

    def make():
        scorer = ProfileSetScorer([TargetProfile(*item) for item in broadcast.value])
        return lambda column: nag_distances(column, scorer, num_layers, stored_k, k, feature_col)

    return make


def scored_schema(schema, keep_cols: Sequence[str], key_cols: Sequence[str]):
    """The Spark schema of ``keep_cols`` (from ``schema``) and the distance columns."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    return StructType([schema[c] for c in keep_cols]
                      + [StructField(k, DoubleType(), False) for k in key_cols])


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
    make_scorer = batch_scorer(df.sparkSession, profiles, feature_col, stored_top_k)
    keep = list(keep_cols)

    def score(batches):
        distances = make_scorer()
        for batch in batches:
            cols = [batch.column(c) for c in keep]
            cols += [pa.array(d, pa.float64()) for d in distances(batch.column(feature_col))]
            yield pa.RecordBatch.from_arrays(cols, names=keep + list(key_cols))

    return df.select(*keep, feature_col).mapInArrow(score, scored_schema(df.schema, keep, key_cols))


def score_files(spark, scan, table_schema, feature_col: str, profiles: Sequence[TargetProfile],
                key_cols: Sequence[str], keep_cols: Sequence[str],
                stored_top_k: int | None = None):
    """:func:`score_frame` of the pool's files read in the Python workers
    (:mod:`~nag_spark.spark.rank.direct_scan`): the same columns and scores, and each
    docid's hash (:data:`~nag_spark.spark.rank.direct_scan.DOCID_HASH`, for the pool's
    uniqueness check). ``table_schema`` is the pool table's Spark schema; ``keep_cols``
    must hold ``docid``."""
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import LongType

    from ...kernels.docid_hash import docid_hashes
    from .direct_scan import DOCID_HASH, column_reader, scan_frame

    make_scorer = batch_scorer(spark, profiles, feature_col, stored_top_k)
    keep = list(keep_cols)
    schema = scored_schema(table_schema, keep, key_cols).add(DOCID_HASH, LongType(), True)
    arrow_out = to_arrow_schema(schema)
    conform, docid_at = column_reader(arrow_out, keep), keep.index("docid")

    def make_task():
        distances = make_scorer()

        def on_piece(table):
            cols = conform(table)
            cols += [pa.array(d, pa.float64()) for d in distances(table.column(feature_col))]
            cols.append(docid_hashes(cols[docid_at]))
            yield pa.RecordBatch.from_arrays(cols, schema=arrow_out)

        return on_piece, lambda: iter(())

    return scan_frame(spark, scan, feature_col, keep, schema, make_task)
