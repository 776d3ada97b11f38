"""Every baseline through :func:`run_selection`: the exact budget rule, identical rows under
any partitioning, the selection table's columns and properties, clear errors."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import contextlib

import pandas as pd
import pytest

from nag_spark.errors import ConfigError, InputError
from nag_spark.spark.select import SelectOptions, run_selection
from nag_spark.spark.select.run import output_columns
from select_fixtures import check_budget_rule, make_docs, make_targets, read_selection, write_parquet

METHODS = ["random", "dsir", "bm25", "embedding"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("select-corpus")
    docs = make_docs()
    return {"one": write_parquet(docs, root / "pool.parquet"),
            "seven": write_parquet(docs, root / "pool7", n_files=7, seed=3),
            "targets": write_parquet(make_targets(), root / "targets.parquet"), "docs": docs}


@contextlib.contextmanager
def _file_per_partition(spark):
    """Every input file its own partition (Spark would pack the small files together)."""
    keys = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    old = [spark.conf.get(k) for k in keys]
    spark.conf.set(keys[0], "1024")
    spark.conf.set(keys[1], str(64 << 20))
    try:
        yield
    finally:
        for k, v in zip(keys, old):
            spark.conf.set(k, v)


def _select(spark, corpus, tmp_path, method, name, fraction, pool="one", **kw):
    out = tmp_path / name
    res = run_selection(spark, SelectOptions(method=method, target="dataset=cooking_train",
                                             pool_docs=corpus[pool], target_docs=corpus["targets"],
                                             output=str(out), fraction=fraction, track=False, **kw))
    return res, *read_selection(out)


@pytest.mark.parametrize("method", METHODS)
def test_budget_rule_and_partitioning(spark, corpus, tmp_path, method):
    assert spark.read.parquet(corpus["one"]).rdd.getNumPartitions() == 1
    _, everything, _ = _select(spark, corpus, tmp_path, method, "all", 1.0)
    assert len(everything) == len(corpus["docs"])  # fraction 1 keeps the whole pool, in order
    res, one, props = _select(spark, corpus, tmp_path, method, "one", 0.3)
    with _file_per_partition(spark):
        assert spark.read.parquet(corpus["seven"]).rdd.getNumPartitions() >= 7
        _, seven, _ = _select(spark, corpus, tmp_path, method, "seven", 0.3, pool="seven")
    check_budget_rule(one, everything, 0.3)
    assert res.selected_tokens == one.token_num.sum() <= res.budget
    pd.testing.assert_frame_equal(one, seven)  # same rows, keys, scores and ranks
    assert list(one.columns) == output_columns()
    # The key is 1 - min-max(score): best score first, 0 for the pool's best document.
    assert everything.nag_distance.iloc[0] == 0.0 and everything.nag_distance.max() == 1.0
    assert everything.score.is_monotonic_decreasing
    assert props["nag.kind"] == "selection" and props["nag.method"] == method
    assert props["nag.target"] == "dataset=cooking_train" and props["nag.fraction"] == "0.3"
    assert set(one.target) == {"dataset=cooking_train"}


def test_target_rows_of_the_pool_table_leave_the_pool(spark, tmp_path):
    both = pd.concat([make_docs(4), make_targets()], ignore_index=True)
    path = write_parquet(both, tmp_path / "both.parquet")
    res = run_selection(spark, SelectOptions(method="bm25", target="dataset=cooking_train",
                                             pool_docs=path, target_docs=path, fraction=1.0,
                                             output=str(tmp_path / "out"), track=False))
    sel, _ = read_selection(tmp_path / "out")
    assert res.excluded_target_rows == 6 and res.target_docs == 6
    assert not sel.docid.str.startswith("t-").any() and len(sel) == len(both) - 6


def test_errors_name_the_option(spark, corpus, tmp_path):
    base = dict(target="dataset=cooking_train", pool_docs=corpus["one"],
                target_docs=corpus["targets"], output=str(tmp_path / "x"), track=False)
    with pytest.raises(InputError, match="unknown method 'tfidf'"):
        run_selection(spark, SelectOptions(method="tfidf", **base))
    with pytest.raises(InputError, match="--fraction must be in"):
        run_selection(spark, SelectOptions(method="random", **{**base, "fraction": 1.5}))
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        run_selection(spark, SelectOptions(method="random", **{**base, "target": "nope"}))
    with pytest.raises(InputError, match="target 'dataset=x' is empty"):
        run_selection(spark, SelectOptions(method="random", **{**base, "target": "dataset=x"}))
    with pytest.raises(InputError, match="filters on column 'split'"):
        run_selection(spark, SelectOptions(method="random", **{**base, "target": "split=train"}))
    with pytest.raises(InputError, match="no column 'url' to carry"):
        run_selection(spark, SelectOptions(method="random", **{**base, "payload_cols": ("url",)}))
    no_text = write_parquet(make_docs(2).drop(columns="doc"), tmp_path / "notext.parquet")
    with pytest.raises(InputError, match="has no column 'doc'"):
        run_selection(spark, SelectOptions(method="random", **{**base, "pool_docs": no_text}))
    with pytest.raises(InputError, match="would overwrite --pool-docs"):
        run_selection(spark, SelectOptions(method="random", **{**base, "output": corpus["one"]}))
