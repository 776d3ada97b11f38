"""Exact token-budget selection in Spark (spark/rank/selection.py): equal to the sequential
reference bit for bit, whatever the partitioning, ties and edge budgets."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rank_fixtures import (FAST, L, K, N, assert_same_selection, pool, read_delta,  # noqa: E402,F401
                           reference, synthetic_pool, write_features)

from nag_spark.kernels.selection import Cutoff, bin_index  # noqa: E402
from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402
from nag_spark.spark.rank.selection import bin_column, cutoff_filter, partition_column  # noqa: E402


def test_selection_exact_and_independent_of_partitioning(spark, pool, tmp_path, mlflow_uri):
    pdf, path = pool
    want = reference(pdf, pdf, ["hellaswag"], 0.3)
    # The same data laid out in one file instead of three, with other shuffle partitions.
    other = str(tmp_path / "pool_one_file")
    write_features(spark, pdf.sample(frac=1, random_state=5), other, partitions=1)
    tables = []
    for src, shuffles in ((path, "4"), (other, "7")):
        spark.conf.set("spark.sql.shuffle.partitions", shuffles)
        res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=src,
                                             output=str(tmp_path / f"sel_{shuffles}"),
                                             fraction=0.3, experiment="rank-tests", **FAST))
        got = read_delta(res.output_path)
        assert_same_selection(got, want)
        assert res.targets[0].refinement_rounds >= 1  # the boundary was refined
        tables.append(got.sort_values("rank").reset_index(drop=True))
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_all_equal_distances_first_row_over_budget_and_fraction_one(spark, tmp_path, mlflow_uri):
    pdf = synthetic_pool(60, seed=2)
    pdf["fwd_up"] = [np.arange(L * K, dtype=np.int16) % N] * len(pdf)  # every NAG identical
    pdf["dataset"] = "web"
    first = sorted(pdf.docid)[0]
    pdf.loc[pdf.docid == first, "token_num"] = 10**6  # the first row alone busts the budget
    target = pdf.head(5).assign(dataset="hellaswag_train", docid=lambda d: "t" + d.docid)
    pool_path, target_path = str(tmp_path / "pool"), str(tmp_path / "targets")
    write_features(spark, pdf, pool_path)
    write_features(spark, target, target_path, partitions=1)
    for fraction in (0.1, 1.0):
        res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=pool_path,
                                             target_features=target_path,
                                             output=str(tmp_path / f"s{fraction}"),
                                             fraction=fraction, experiment="rank-tests", **FAST))
        got = read_delta(res.output_path)
        assert_same_selection(got, reference(pdf, target, ["hellaswag"], fraction))
        assert len(got) == (1 if fraction < 1 else len(pdf))


def test_spark_expressions_are_the_kernel_formulas(spark):
    rng = np.random.default_rng(8)
    key = np.round(rng.uniform(0.2, 0.9, 300), 2)  # rounded: many exact ties
    docid = [f"d{i:03d}" for i in rng.permutation(300)]
    df = spark.createDataFrame(pd.DataFrame({"k": key, "docid": docid}))
    rows = df.select("k", "docid", bin_column("k", 0.2, 0.9, 16).alias("b")).toPandas()
    assert rows.b.tolist() == bin_index(rows.k, 0.2, 0.9, 16).tolist()
    assert df.select(bin_column("k", 0.5, 0.5, 16).alias("b")).distinct().collect()[0].b == 0
    for cut in (Cutoff(0.55, "d150", True), Cutoff(0.55, "d150", False), Cutoff(0.2, "d000")):
        kept = set(df.filter(cutoff_filter("k", cut)).toPandas().docid)
        assert kept == set(np.asarray(docid)[cut.mask(key, docid)])
    assert cutoff_filter("k", Cutoff(None, None)) is None  # keep every row: no filter at all


def test_each_rank_group_gets_its_own_partition(spark):
    """Hashing group ids put two of a few groups in one partition (and one task ranked and
    wrote both); the partition column gives group g partition g, for any group count."""
    from pyspark.sql import functions as F

    for n in (1, 2, 3, 7, 20):
        df = spark.range(0, 40 * n).select((F.col("id") % n).alias("g"))
        parts = (df.repartition(n, partition_column(spark, F.col("g"), n))
                 .select("g", F.spark_partition_id().alias("p")).distinct().toPandas())
        assert sorted(zip(parts.g, parts.p)) == [(g, g) for g in range(n)], n
    # Hashing the group itself, for contrast: at 20 groups some partitions hold several.
    plain = spark.range(0, 800).select((F.col("id") % 20).alias("g")).repartition(20, "g")
    assert plain.select(F.spark_partition_id().alias("p")).distinct().count() < 20
