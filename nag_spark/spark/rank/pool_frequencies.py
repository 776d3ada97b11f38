"""The pool's neuron counts, for the contrastive profile weightings: one aggregation.

For each scored layer ``l`` and neuron ``n``, how many pool NAGs hold ``n`` among their
first k indices of layer ``l`` (:class:`~nag_spark.kernels.profile.PoolFrequencies`). Two
steps, both DataFrame operations (so they run the same on Spark Connect and Databricks):

1. ``mapInArrow``: each task decodes its NAG batches with the features codec (packed
   ``binary`` or the ``array<short|int>`` of earlier releases, as scoring does) and counts
   them into one dense ``(L, N)`` array, emitted as one row per scored layer (the layer's
   N counts as little-endian int64 bytes);
2. ``groupBy(layer).applyInArrow``: the rows of one layer (one per task) are summed where
   they land, so the driver receives L rows of N counts whatever the number of tasks.

Only the NAG column is read; the cost is one scan and decode of it (README, rank section,
has the measurement against a ranking pass).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

from ...errors import InputError
from ...kernels.profile import PoolFrequencies, nag_prefix, neuron_counts
from ...tables.nag_codec import decode_nags

_COUNTS = np.dtype("<i8")


def pool_frequencies(df, feature_col: str, num_layers: int, stored_k: int, k: int,
                     n_neurons: int, layers: Sequence[int]) -> PoolFrequencies:
    """Count the first ``k`` indices of each of ``layers`` over the NAGs of ``df``.

    Parameters
    ----------
    df : DataFrame
        The pool rows to rank (target rows already left out) with ``feature_col``.
    feature_col : str
        The neuron-type column.
    num_layers, stored_k, n_neurons : int
        L, K and N of the features.
    k : int
        Indices per layer counted (``--top-k``), ``1 <= k <= stored_k``.
    layers : sequence of int
        Layers counted; the others keep zero rows.

    Returns
    -------
    PoolFrequencies
        ``counts`` of shape ``(L, N)``, the number of pool rows, ``k``.

    Raises
    ------
    InputError
        A null NAG or one of the wrong length (from the codec), or indices outside ``[0, N)``.
    """
    from pyspark.sql.types import BinaryType, IntegerType, LongType, StructField, StructType

    width, chosen = num_layers * stored_k, [int(v) for v in layers]
    partial = StructType([StructField("layer", IntegerType(), False),
                          StructField("docs", LongType(), False),
                          StructField("counts", BinaryType(), False)])

    def count(batches):
        counts, docs = np.zeros((num_layers, n_neurons), np.int64), 0
        for batch in batches:
            if not batch.num_rows:
                continue
            nags = nag_prefix(decode_nags(batch.column(0), width, feature_col), num_layers,
                              stored_k, k)
            lo, hi = int(nags.min()), int(nags.max())
            if lo < 0 or hi >= n_neurons:
                raise InputError(f"NAG indices of column {feature_col!r} must lie in [0, "
                                 f"{n_neurons}); found [{lo}, {hi}]: pool and target disagree")
            counts += neuron_counts(nags, num_layers, k, n_neurons)
            docs += batch.num_rows
        if docs:  # a task with no rows sends nothing
            yield pa.RecordBatch.from_arrays(
                [pa.array(chosen, pa.int32()), pa.array([docs] * len(chosen), pa.int64()),
                 pa.array([counts[l].astype(_COUNTS).tobytes() for l in chosen], pa.binary())],
                schema=pa.schema([("layer", pa.int32(), False), ("docs", pa.int64(), False),
                                  ("counts", pa.binary(), False)]))

    def total(table: pa.Table) -> pa.Table:
        rows = table.column("counts").to_pylist()
        summed = np.zeros(n_neurons, np.int64)
        for raw in rows:
            summed += np.frombuffer(raw, _COUNTS)
        return pa.table({"layer": table.column("layer").slice(0, 1),
                         "docs": pa.array([int(np.sum(table.column("docs").to_numpy()))],
                                          pa.int64()),
                         "counts": pa.array([summed.astype(_COUNTS).tobytes()], pa.binary())},
                        schema=pa.schema([("layer", pa.int32(), False),
                                          ("docs", pa.int64(), False),
                                          ("counts", pa.binary(), False)]))

    per_task = df.select(feature_col).mapInArrow(count, partial)
    rows = per_task.groupBy("layer").applyInArrow(total, partial).collect()
    counts = np.zeros((num_layers, n_neurons), np.int64)
    docs = {int(r["docs"]) for r in rows}
    for r in rows:
        counts[int(r["layer"])] = np.frombuffer(r["counts"], _COUNTS)
    if len(docs) > 1:  # every layer counts every row: a mismatch would be a bug here
        raise RuntimeError(f"pool neuron counts disagree on the number of rows: {sorted(docs)}")
    return PoolFrequencies(counts, docs.pop() if docs else 0, int(k))
