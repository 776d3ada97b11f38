"""``random``: a seeded hash of the docid, stable for a seed, different across seeds."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np

from nag_spark.spark.select import SelectOptions, run_selection
from nag_spark.spark.select.seeded_random import uniform_scores
from select_fixtures import make_docs, make_targets, read_selection, write_parquet


def test_uniform_scores_are_a_function_of_seed_and_docid():
    ids = [f"d{i}" for i in range(5000)]
    a = uniform_scores(ids, 7)
    assert np.array_equal(a, uniform_scores(ids, 7))
    assert np.array_equal(uniform_scores(ids[::-1], 7), a[::-1])  # no dependence on order
    assert not np.array_equal(a, uniform_scores(ids, 8))
    assert a.min() >= 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.02  # uniform-looking
    assert len(np.unique(a)) == len(a)


def test_selection_is_stable_for_a_seed_and_differs_by_seed(spark, tmp_path):
    pool = write_parquet(make_docs(), tmp_path / "pool.parquet")
    targets = write_parquet(make_targets(), tmp_path / "t.parquet")

    def select(seed, name):
        run_selection(spark, SelectOptions(method="random", target="dataset=cooking_train",
                                           pool_docs=pool, target_docs=targets, seed=seed,
                                           output=str(tmp_path / name), fraction=0.3, track=False))
        return read_selection(tmp_path / name)

    (a, props), (b, _), (c, _) = select(1, "a"), select(1, "b"), select(2, "c")
    assert a.docid.tolist() == b.docid.tolist() and props["nag.seed"] == "1"
    assert a.docid.tolist() != c.docid.tolist()
    assert np.array_equal(a.score.to_numpy(), uniform_scores(a.docid.tolist(), 1))
