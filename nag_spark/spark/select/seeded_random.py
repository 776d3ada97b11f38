"""``random``: a seeded uniform score per document, token-budgeted like every selector.

The score of a document is a hash of ``(seed, docid)`` mapped to [0, 1): it depends on
nothing but the seed and the docid, so a selection is the same for a seed whatever the
partitioning, the pool's row order or the machine, and another seed gives another sample.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import pyarrow as pa

from .texts import SCORE

_MANTISSA = 53  # the bits of a double's mantissa: every score is exact in [0, 1)


def uniform_scores(docids: Sequence[str], seed: int) -> np.ndarray:
    """A uniform score in [0, 1) per docid, from BLAKE2b of the seed and the docid.

    >>> a = uniform_scores(["a", "b"], seed=1)
    >>> bool(((a >= 0) & (a < 1)).all()), uniform_scores(["b"], seed=1)[0] == a[1]
    (True, True)
    """
    salt = f"{int(seed)}\x00".encode()
    out = np.empty(len(docids), np.float64)
    for i, d in enumerate(docids):
        raw = int.from_bytes(hashlib.blake2b(salt + str(d).encode(), digest_size=8).digest(), "big")
        out[i] = (raw >> (64 - _MANTISSA)) / float(1 << _MANTISSA)
    return out


def score_pool(pool_df, keep_cols: Sequence[str], target_texts, opts):
    """``(scored frame, method params)``: ``keep_cols`` plus ``score`` (targets unused)."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    keep = list(keep_cols)
    seed = int(opts.seed)
    schema = StructType([pool_df.schema[c] for c in keep] + [StructField(SCORE, DoubleType(), False)])

    def score(batches):
        for batch in batches:
            values = uniform_scores(batch.column("docid").to_pylist(), seed)
            cols = [batch.column(c) for c in keep] + [pa.array(values, pa.float64())]
            yield pa.RecordBatch.from_arrays(cols, names=keep + [SCORE])

    return pool_df.select(*keep).mapInArrow(score, schema), {"seed": seed}
