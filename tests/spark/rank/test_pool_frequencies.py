"""The pool's neuron counts (spark/rank/pool_frequencies.py): one aggregation that equals a
numpy count of the decoded NAGs, for packed and array<short> tables alike."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rank_fixtures import K, L, N, read_delta, synthetic_pool, write_features  # noqa: E402

from nag_spark.spark.rank.pool_frequencies import pool_frequencies  # noqa: E402
from nag_spark.tables.nag_codec import index_rows  # noqa: E402


def _numpy_counts(nags: np.ndarray, k: int, layers) -> np.ndarray:
    """Per layer and neuron, the pool documents holding it among their first k (a loop)."""
    counts = np.zeros((L, N), np.int64)
    for row in nags:
        for l in layers:
            for n in set(int(v) for v in row[l * K:l * K + k]):
                counts[l, n] += 1
    return counts


@pytest.mark.parametrize("layout", ["list", "bits4"])
@pytest.mark.parametrize("k,layers", [(K, range(L)), (2, (1, 3))])
def test_pool_counts_equal_a_numpy_count_of_the_decoded_nags(spark, tmp_path, layout, k, layers):
    pdf = synthetic_pool(230, seed=31, n_values=N)  # every neuron index can occur
    path = write_features(spark, pdf, str(tmp_path / "pool"), partitions=5, layout=layout)
    # Read back independently (deltalake) and decode: what the table really holds.
    stored = np.stack(index_rows(read_delta(path).fwd_up, L * K, "fwd_up")).astype(np.int64)
    df = spark.read.parquet(path)  # plain parquet scan of the Delta table's files
    got = pool_frequencies(df, "fwd_up", L, K, k, N, tuple(layers))
    assert got.n_docs == len(pdf) and got.top_k == k
    assert got.counts.dtype == np.int64 and got.counts.shape == (L, N)
    assert np.array_equal(got.counts, _numpy_counts(stored, k, layers))
    assert got.counts[list(layers)].sum() == len(pdf) * k * len(list(layers))


def test_empty_partitions_and_an_empty_pool(spark, tmp_path):
    pdf = synthetic_pool(12, seed=32)
    path = write_features(spark, pdf, str(tmp_path / "pool"), partitions=1)
    df = spark.read.parquet(path).repartition(6)  # some tasks get no row
    got = pool_frequencies(df, "fwd_up", L, K, K, N, range(L))
    assert got.n_docs == 12
    empty = pool_frequencies(df.limit(0), "fwd_up", L, K, K, N, range(L))
    assert empty.n_docs == 0 and not empty.counts.any()


def test_indices_outside_the_neuron_count_are_refused(spark, tmp_path):
    pdf = synthetic_pool(10, seed=33)
    path = write_features(spark, pdf, str(tmp_path / "pool"), partitions=1)
    # Raised in a task: Spark hands it back wrapped, with the message.
    with pytest.raises(Exception, match=r"must lie in \[0, 2\)"):
        pool_frequencies(spark.read.parquet(path), "fwd_up", L, K, K, 2, range(L))
