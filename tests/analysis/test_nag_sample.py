"""The NAG map's sample: bounded, deterministic, drawn in Spark with per-dataset quotas."""
from __future__ import annotations

import pytest

from nag_spark.analysis.nag_sample import (dataset_quotas, read_features, sample_features,
                                           sample_map_points)
from nag_spark.errors import ConfigError, InputError


def test_quotas_water_fill():
    assert dataset_quotas({"a": 10, "b": 3}, per_dataset=5, max_points=100) == {"a": 5, "b": 3}
    q = dataset_quotas({"a": 1000, "b": 1000, "c": 2}, per_dataset=500, max_points=102)
    assert q == {"a": 50, "b": 50, "c": 2}
    with pytest.raises(ConfigError):
        dataset_quotas({"a": 1}, per_dataset=0, max_points=1)


def test_sample_is_bounded_and_deterministic(spark, synthetic_features):
    df = synthetic_features({"big": 600, "small": 7, "mid": 80})
    a = sample_features(df.repartition(5), "fwd_up", per_dataset=40, max_points=70, seed=3)
    b = sample_features(df.repartition(2), "fwd_up", per_dataset=40, max_points=70, seed=3)
    assert len(a) <= 70
    counts = a.dataset.value_counts().to_dict()
    assert counts["small"] == 7 and counts["big"] <= 40 and counts["mid"] <= 40
    # Same seed, other partitioning: the same documents.
    assert a.docid.tolist() == b.docid.tolist()
    with pytest.raises(InputError, match="no column 'att_q'"):
        sample_features(df, "att_q", per_dataset=5, max_points=5, seed=0)


def test_map_points_give_targets_a_third(synthetic_features):
    pool = synthetic_features({"web": 100, "code": 100})
    targets = synthetic_features({"hellaswag_train": 50, "arc_c_train": 50}, seed=1, prefix="t/")
    pts = sample_map_points(pool, targets, neuron_type="fwd_up",
                            target_filter=("dataset", ["arc_c_train"]), per_dataset=100,
                            max_points=90, seed=0)
    assert pts.is_target.sum() <= 30 and (~pts.is_target).sum() <= 60
    assert set(pts[pts.is_target].dataset) == {"arc_c_train"}
    assert set(pts.columns) == {"docid", "dataset", "nag", "is_target"}
    with pytest.raises(InputError, match="target filter column 'split'"):
        sample_map_points(pool, targets, neuron_type="fwd_up", target_filter=("split", ["x"]),
                          per_dataset=5, max_points=10, seed=0)


def test_a_dataframe_source_has_no_table(spark, synthetic_features):
    src = read_features(spark, synthetic_features({"web": 3}))
    assert src.path is None and src.version is None and dict(src.properties) == {}
    assert src.lineage.num_layers is None


def test_duplicate_docids_are_refused_in_the_counting_scan(spark, synthetic_features):
    # Issue 13 item 1: a docid twice (here once in each of two datasets) is refused by
    # the scan that counts the datasets, naming an example and the counts.
    from pyspark.sql import functions as F

    df = synthetic_features({"web": 20, "code": 10})
    dup = df.withColumn("docid", F.when(F.col("docid") == "code/3", "web/5").otherwise(F.col("docid")))
    with pytest.raises(InputError, match=r"pool features /p holds 1 duplicate rows: 1 docids appear "
                                         r"more than once, e.g. 'web/5' \(2x\).*nothing was drawn"):
        sample_features(dup, "fwd_up", per_dataset=5, max_points=10, seed=0, what="pool features /p")
    targets = synthetic_features({"hellaswag_train": 6}, prefix="t/").unionByName(
        synthetic_features({"hellaswag_train": 1}, prefix="t/"))
    with pytest.raises(InputError, match=r"target features /t holds 1 duplicate rows"):
        sample_map_points(df, targets, neuron_type="fwd_up", target_filter=None, per_dataset=5,
                          max_points=9, seed=0, targets_name="/t")
