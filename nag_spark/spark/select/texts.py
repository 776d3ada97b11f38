"""The two Spark passes every text baseline is made of: a per-document score, and a sum of
sparse per-document counts over the pool.

Both run Python over Arrow batches (``mapInArrow``) on the executors; what a method fitted
on the driver travels once per executor as a broadcast variable. A scorer scores each
document on its own (its result does not depend on which other documents share its batch
or partition), which is what makes a selection identical under any partitioning.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pyarrow as pa

TEXT = "doc"
SCORE = "score"
_TEXT_COPY = "_nag_text"  # the text as the scorer reads it (``doc`` may also be a payload column)


def score_texts(df, keep_cols: Sequence[str], make_scorer: Callable, fitted):
    """``df``'s ``keep_cols`` plus a double ``score`` column; the text column is dropped.

    Parameters
    ----------
    df : DataFrame
        Has ``doc`` (the text) and ``keep_cols``.
    make_scorer : callable
        ``make_scorer(fitted) -> scorer``, called once per task on the executor;
        ``scorer(texts: list[str]) -> array of float`` (one score per text).
    fitted : object
        What the method fitted on the driver (broadcast).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, StructField, StructType

    keep = list(keep_cols)
    broadcast = df.sparkSession.sparkContext.broadcast(fitted)
    schema = StructType([df.schema[c] for c in keep] + [StructField(SCORE, DoubleType(), False)])

    def score(batches):
        scorer = make_scorer(broadcast.value)
        for batch in batches:
            values = np.asarray(scorer(batch.column(_TEXT_COPY).to_pylist()), dtype=np.float64)
            cols = [batch.column(c) for c in keep] + [pa.array(values, pa.float64())]
            yield pa.RecordBatch.from_arrays(cols, names=keep + [SCORE])

    return df.select(*keep, F.col(TEXT).alias(_TEXT_COPY)).mapInArrow(score, schema)


def sum_counts(df, make_counter: Callable, fitted) -> dict[int, int]:
    """One aggregation: ``{key: total}`` of sparse per-document counts over ``df``.

    ``make_counter(fitted) -> counter`` is called once per task; ``counter(texts)`` returns
    ``(keys, counts)``, two int arrays summing that batch's documents. Each task sums its own
    batches first, so at most one row per key and task reaches the shuffle.
    """
    from pyspark.sql import functions as F

    broadcast = df.sparkSession.sparkContext.broadcast(fitted)

    def count(batches):
        counter = make_counter(broadcast.value)
        totals: dict[int, int] = {}
        for batch in batches:
            keys, counts = counter(batch.column(TEXT).to_pylist())
            for k, c in zip(np.asarray(keys).tolist(), np.asarray(counts).tolist()):
                totals[k] = totals.get(k, 0) + c
        if totals:
            yield pa.RecordBatch.from_arrays(
                [pa.array(list(totals), pa.int64()), pa.array(list(totals.values()), pa.int64())],
                names=["k", "n"])

    rows = (df.select(TEXT).mapInArrow(count, "k long, n long")
            .groupBy("k").agg(F.sum("n").alias("n")).collect())
    return {int(r["k"]): int(r["n"]) for r in rows}
