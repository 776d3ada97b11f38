"""The pool side (spark/rank/pool.py): which rows are scored, and the checks on the pool."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rank_fixtures import synthetic_pool, write_features  # noqa: E402

from nag_spark.errors import InputError  # noqa: E402
from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402
from nag_spark.spark.rank.plan import plan_ranking  # noqa: E402
from nag_spark.spark.rank.pool import pool_to_score  # noqa: E402
from nag_spark.spark.rank.profiles import target_profiles  # noqa: E402


def test_target_rows_of_the_pool_table_are_not_scored(spark, tmp_path):
    pdf = synthetic_pool(80, seed=6)
    path = write_features(spark, pdf, str(tmp_path / "pool"), partitions=2)
    opts = RankOptions(targets=["hellaswag"], pool=path, output=str(tmp_path / "out"),
                       quality_col="quality", payload_cols=("n_tokens",))
    plan = plan_ranking(spark, opts)
    _, counts, _ = target_profiles(plan, opts)
    pool = pool_to_score(plan, opts, counts)
    n_target = int((pdf.dataset == "hellaswag_train").sum())
    assert counts == [n_target] and pool.excluded_target_rows == n_target
    assert pool.columns == ["docid", "dataset", "token_num", "quality", "n_tokens"]
    scored = pool.df.select("docid", "dataset").toPandas()
    assert len(scored) == len(pdf) - n_target and "hellaswag_train" not in set(scored.dataset)


def test_null_or_nan_quality_values_are_refused(spark, tmp_path, mlflow_uri):
    pdf = synthetic_pool(40, seed=7)
    pdf.loc[[2, 5], "quality"] = float("nan")
    pdf.loc[[2, 5], "dataset"] = "web"  # pool rows, not target rows (those are not scored)
    path = write_features(spark, pdf, str(tmp_path / "pool"), partitions=1)
    with pytest.raises(InputError, match=r"quality column 'quality' has 2 null or NaN values"):
        run_ranking(spark, RankOptions(targets=["hellaswag"], pool=path, quality_col="quality",
                                       output=str(tmp_path / "out"), experiment="rank-tests"))


def test_duplicate_docids_are_refused_naming_examples_and_counts(spark, tmp_path, mlflow_uri):
    # Issue 13 item 1: a pool with a docid twice was ranked silently; the document could
    # be selected twice and the token budget counted it twice.
    import os

    pdf = synthetic_pool(60, seed=8)
    web = pdf.index[pdf.dataset == "web"]
    dup_pool = pdf.copy()
    dup_pool.loc[web[1:3], "docid"] = dup_pool.loc[web[0], "docid"]   # one docid 3x
    target = pdf[pdf.dataset == "hellaswag_train"].copy()
    pool_path = write_features(spark, dup_pool[dup_pool.dataset == "web"], str(tmp_path / "pool"), partitions=2)
    target_path = write_features(spark, target, str(tmp_path / "targets"), partitions=1)
    out = str(tmp_path / "out")
    opts = dict(targets=["hellaswag"], output=out, experiment="rank-tests")
    with pytest.raises(InputError, match=rf"pool {pool_path} holds 2 duplicate rows: 1 docids "
                                         rf"appear more than once, e.g. '{dup_pool.loc[web[0], 'docid']}' \(3x\)"):
        run_ranking(spark, RankOptions(pool=pool_path, target_features=target_path, **opts))

    dup_target = pd.concat([target, target.iloc[:1]])
    dup_target_path = write_features(spark, dup_target, str(tmp_path / "dup_targets"), partitions=1)
    with pytest.raises(InputError, match=r"target 'hellaswag' of .*dup_targets: 1 docids appear "
                                         r"more than once among the target rows"):
        run_ranking(spark, RankOptions(pool=str(tmp_path / "targets"), target_features=dup_target_path,
                                       **opts))

    same = pdf.copy()
    same.loc[web[0], "docid"] = target.iloc[0].docid   # a pool row carries a target's docid
    same_path = write_features(spark, same, str(tmp_path / "same"), partitions=2)
    with pytest.raises(InputError, match=r"1 docids of the target rows appear again as other rows"):
        run_ranking(spark, RankOptions(pool=same_path, **opts))
    assert not os.path.exists(out)
