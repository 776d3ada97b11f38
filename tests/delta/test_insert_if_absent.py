"""Insert-if-absent on a key: idempotent re-runs, duplicate and null keys, lineage."""
from __future__ import annotations

import pytest

from nag_spark.delta import insert_if_absent, read_table, table_version, write_table
from nag_spark.errors import InputError, LineageMismatchError

PROPS = {"nag.kind": "features", "nag.model": "m1"}


def test_insert_is_idempotent(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    version, rows = insert_if_absent(features_frame(10), path, properties=PROPS,
                                     commit_info={"job": "extract", "mlflow_run_id": "r1"})
    assert rows == 10 and version == check(path).version()
    # A re-run after a crash with overlapping input adds only the missing keys...
    version2, rows2 = insert_if_absent(features_frame(15), path, properties=PROPS)
    assert (version2, rows2) == (version + 1, 5)
    # ...and a full re-run commits nothing at all.
    assert insert_if_absent(features_frame(15), path, properties=PROPS) == (None, 0)
    delta = check(path)
    assert delta.version() == version2 == table_version(path)
    pl_df = delta.polars()
    assert pl_df.height == 15 and pl_df["docid"].n_unique() == 15
    assert delta.duckdb_count() == 15
    assert read_table(spark, path).select("docid").distinct().count() == 15


def test_duplicate_keys_in_new_rows_are_refused(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    insert_if_absent(features_frame(3), path)
    doubled = features_frame(3).unionByName(features_frame(5))
    with pytest.raises(InputError, match=r"duplicate values of key 'docid'.*'doc-000000' \(2x\)"):
        insert_if_absent(doubled, path)
    assert check(path).version() == 0 and check(path).polars().height == 3


def test_missing_or_null_key_is_refused(spark, tmp_path, features_frame):
    from pyspark.sql import functions as F

    with pytest.raises(InputError, match="key column 'doc_id' is not in the data"):
        insert_if_absent(features_frame(3), tmp_path / "t", key="doc_id")
    with_null = features_frame(3).withColumn(
        "docid", F.when(F.col("token_num") == 1, F.lit(None)).otherwise(F.col("docid")))
    with pytest.raises(InputError, match="null"):
        insert_if_absent(with_null, tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_lineage_mismatch_writes_nothing(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    write_table(features_frame(4), path, properties=PROPS)
    before = check(path).version()
    with pytest.raises(LineageMismatchError, match=r"'nag.model' is 'm1' in the table but 'm2'"):
        insert_if_absent(features_frame(8), path, properties={**PROPS, "nag.model": "m2"})
    with pytest.raises(LineageMismatchError, match=str(path)):
        write_table(features_frame(2, offset=50), path, properties={**PROPS, "nag.model": "m2"})
    with pytest.raises(LineageMismatchError, match="'nag.top_k' is absent"):
        write_table(features_frame(2, offset=50), path, properties={**PROPS, "nag.top_k": "20"})
    assert check(path).version() == before and check(path).polars().height == 4
    assert check(path).properties() == PROPS
    # Appending without properties, or with the same ones, is fine.
    write_table(features_frame(2, offset=60), path)
    write_table(features_frame(2, offset=70), path, properties={"nag.model": "m1"})
    assert check(path).polars().height == 8
