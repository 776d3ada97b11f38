"""Create, append, overwrite and read Delta tables; every table is checked by other readers."""
from __future__ import annotations

import json

import pytest

from nag_spark.delta import read_table, table_exists, table_properties, table_version, write_table
from nag_spark.errors import InputError, TableError

PROPS = {"nag.kind": "features", "nag.model": "smollm2-135m", "nag.top_k": "20"}
INFO = {"job": "extract", "mlflow_run_id": "abc123"}


def test_create_append_overwrite_versions(spark, tmp_path, features_frame, check):
    path = tmp_path / "features"
    v_create = write_table(features_frame(30), path, properties=PROPS, commit_info=INFO)
    v_append = write_table(features_frame(20, offset=30), path, properties=PROPS,
                           commit_info={"job": "extract", "mlflow_run_id": "def456"})
    assert v_append == v_create + 1
    delta = check(path)
    assert delta.version() == v_append == table_version(path)
    assert delta.polars().height == 50 and delta.duckdb_count() == 50
    assert read_table(spark, path).count() == 50
    assert read_table(spark, path, version=v_create).count() == 30
    assert delta.polars(version=v_create).height == 30

    v_over = write_table(features_frame(5, offset=100), path, mode="overwrite",
                         properties=PROPS, commit_info=INFO)
    assert v_over == v_append + 1
    assert delta.polars().height == 5 and delta.duckdb_count() == 5
    assert sorted(r.docid for r in read_table(spark, path).collect())[0] == "doc-000100"
    assert read_table(spark, path, version=v_append).count() == 50  # time travel still works
    ops = [h["operation"] for h in delta.history()]
    # A new table with properties is one commit: schema, properties and rows together.
    assert v_create == 0 and ops[0] == "WRITE" and ops[-1] == "CREATE TABLE AS SELECT"


def test_schema_arrays_strings_timestamps_round_trip(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    df = features_frame(12)
    write_table(df, path)
    delta = check(path)
    assert delta.schema() == {
        "docid": "string", "dataset": "string", "token_num": "long", "n_tokens": "integer",
        "fwd_up": "array<short>", "att_q": "array<integer>", "ts": "timestamp",
    }
    back = read_table(spark, path)
    assert [f.dataType.simpleString() for f in back.schema] == \
        [f.dataType.simpleString() for f in df.schema]
    assert sorted(map(tuple, back.collect())) == sorted(map(tuple, df.collect()))
    pl_df = delta.polars().sort("docid")
    assert pl_df["fwd_up"].to_list()[:2] == [[0, 0], [1, 3]]
    assert pl_df["att_q"].to_list()[1] == [40001]
    assert str(pl_df["ts"].dtype).startswith("Datetime(time_unit='us'")


def test_properties_and_commit_metadata(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    write_table(features_frame(4), path, properties=PROPS, commit_info=INFO)
    delta = check(path)
    assert delta.properties() == PROPS == table_properties(path)
    latest = delta.history()[0]
    assert json.loads(latest["userMetadata"]) == INFO
    assert latest["job"] == "extract" and latest["mlflow_run_id"] == "abc123"
    # The same facts in the raw log, as any Delta reader sees them.
    infos = [e["commitInfo"] for e in delta.log_entries() if "commitInfo" in e]
    assert all(json.loads(i["userMetadata"]) == INFO for i in infos)
    meta = [e["metaData"] for e in delta.log_entries() if "metaData" in e]
    assert meta[-1]["configuration"] == PROPS
    assert any("protocol" in e for e in delta.log_entries())


def test_file_statistics(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    write_table(features_frame(40, partitions=3), path)
    stats = check(path).add_stats()
    assert len(stats) == 3 and sum(s["numRecords"] for s in stats) == 40
    for s in stats:
        assert set(s["minValues"]) == {"docid", "dataset", "token_num", "n_tokens", "ts"}
        assert "fwd_up" not in s["nullCount"] and "fwd_up" not in s["maxValues"]  # arrays: none
        assert s["nullCount"]["docid"] == 0
        assert s["minValues"]["token_num"] <= s["maxValues"]["token_num"]
        assert s["minValues"]["ts"].startswith("2023-11-14T22:13:20.123")
    assert min(s["minValues"]["docid"] for s in stats) == "doc-000000"
    assert max(s["maxValues"]["token_num"] for s in stats) == 39


def test_partitioned_table(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    write_table(features_frame(10), path, partition_by=["dataset"])
    write_table(features_frame(6, offset=10), path)
    delta = check(path)
    assert delta.table().metadata().partition_columns == ["dataset"]
    assert {f.split("/")[0] for f in delta.data_files_on_disk()} == {"dataset=web", "dataset=books"}
    pl_df = delta.polars()
    assert pl_df.height == 16 and pl_df.filter(pl_df["dataset"] == "web").height == 8
    back = read_table(spark, path)
    assert back.filter("dataset = 'books'").count() == 8
    assert back.schema["dataset"].dataType.simpleString() == "string"


def test_empty_frame_creates_readable_empty_table(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    version = write_table(features_frame(0), path, properties=PROPS)
    assert table_exists(path) and check(path).version() == version
    back = read_table(spark, path)
    assert back.count() == 0 and back.columns == features_frame(0).columns
    assert check(path).polars().height == 0


def test_mode_error_and_bad_mode(spark, tmp_path, features_frame):
    path = tmp_path / "t"
    write_table(features_frame(2), path, mode="error")
    with pytest.raises(TableError, match="already exists"):
        write_table(features_frame(2), path, mode="error")
    with pytest.raises(InputError, match="upsert"):
        write_table(features_frame(2), path, mode="upsert")


def test_append_with_other_columns_is_refused(spark, tmp_path, features_frame, check):
    from pyspark.sql import functions as F

    path = tmp_path / "t"
    write_table(features_frame(2), path)
    with pytest.raises(TableError, match="fwd_up"):
        write_table(features_frame(2).withColumn("fwd_up", F.col("att_q")), path)
    with pytest.raises(TableError, match="extra"):
        write_table(features_frame(2).withColumn("extra", F.col("docid")), path)
    assert check(path).version() == table_version(path)
    assert check(path).polars().height == 2


def test_missing_table_and_version(spark, tmp_path, features_frame):
    assert not table_exists(tmp_path / "nothing")
    with pytest.raises(TableError, match="no Delta table"):
        read_table(spark, tmp_path / "nothing")
    write_table(features_frame(2), tmp_path / "t")
    with pytest.raises(TableError, match="version 7"):
        read_table(spark, tmp_path / "t", version=7)
