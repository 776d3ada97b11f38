"""The pool side (spark/rank/pool.py): which rows are scored, and the checks on the pool."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
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
    _, counts = target_profiles(plan, opts)
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
