"""``dsir``: the package's hashed n-gram features and weights; the length-norm option."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nag_spark.spark.select import SelectOptions, run_selection
from nag_spark.spark.select.dsir import NgramFeaturizer, log_weights
from select_fixtures import make_docs, read_selection


def test_features_equal_the_package_ones():
    from data_selection.hashed_ngram_dsir import get_ngram_counts

    feats = NgramFeaturizer(2, 10000)
    for text in make_docs(3).doc.tolist() + ["Hello, World!! hello", "a", ""]:
        assert np.array_equal(feats.counts([text]), get_ngram_counts(text, n=2, num_buckets=10000))
    assert np.array_equal(NgramFeaturizer(3, 97).counts(["x y z x y"]),
                          get_ngram_counts("x y z x y", n=3, num_buckets=97))


def test_log_weights_match_the_package_formula():
    t, p = np.array([3, 0, 1]), np.array([1, 2, 1])
    want = np.log(t / 4 + 1e-8) - np.log(p / 4 + 1e-8)
    assert np.allclose(log_weights(t, p), want, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def real_sample(shared_data, tmp_path_factory):
    """300 pool documents spread over the shared pool's sources, 40 HellaSwag examples."""
    root = tmp_path_factory.mktemp("dsir-real")
    pool = pq.read_table(shared_data / "pool.parquet")
    pool = pool.take(np.arange(0, pool.num_rows, pool.num_rows // 300)[:300])
    targets = pq.read_table(shared_data / "targets.parquet")
    targets = targets.filter(pc.equal(targets["dataset"], "hellaswag_train")).slice(0, 40)
    pq.write_table(pool, root / "pool.parquet")
    pq.write_table(targets, root / "targets.parquet")
    return root, pool.column("token_num").to_numpy()


def test_length_norm_changes_what_is_favoured(spark, real_sample, tmp_path):
    root, pool_tokens = real_sample

    def select(norm):
        out = tmp_path / f"norm-{norm}"
        run_selection(spark, SelectOptions(method="dsir", target="hellaswag", track=False,
                                           pool_docs=str(root / "pool.parquet"), fraction=0.2,
                                           target_docs=str(root / "targets.parquet"),
                                           output=str(out), dsir_length_norm=norm))
        return read_selection(out)

    (summed, props), (mean, mean_props) = select(False), select(True)
    assert props["nag.dsir_length_norm"] == "false" and mean_props["nag.dsir_length_norm"] == "true"
    # The summed weight (the package's estimator) picks the shortest documents: its
    # selection is shorter per document than the pool; the mean is not length-driven.
    assert np.median(summed.token_num) < np.median(pool_tokens)
    assert mean.token_num.mean() > 2 * summed.token_num.mean()  # tokens per selected document
    assert len(summed) > 1.5 * len(mean)
    # The sum's best-ranked documents are the pool's shortest.
    assert np.median(summed.token_num.iloc[:20]) < 0.25 * np.median(pool_tokens)
