"""Rows and table properties change in one atomic commit (issue 13, item 2).

Before, the delta-rs path committed a selection's new rows and then, in a second commit,
its new properties: version N held the new rows under the old ``nag.fraction`` and
``nag.mlflow_run_id``. Every version is checked here by readers independent of ours
(deltalake, DuckDB over the files deltalake lists, Polars, the raw log) and by Spark.
"""
from __future__ import annotations

import json

import pytest

from nag_spark.delta import read_table, write_table
from nag_spark.delta import log_commit
from nag_spark.delta.location import Location

OLD = {"nag.kind": "selection", "nag.fraction": "0.2", "nag.mlflow_run_id": "run-old",
       "nag.quality_col": "q"}
NEW = {"nag.kind": "selection", "nag.fraction": "0.5", "nag.mlflow_run_id": "run-new"}


def _rows_at(delta, spark, path, version) -> tuple[int, int, int, int]:
    return (delta.table(version).to_pyarrow_table().num_rows, delta.duckdb_count(version),
            delta.polars(version).height, read_table(spark, path, version).count())


def test_overwrite_changes_rows_and_properties_in_one_version(spark, tmp_path, features_frame,
                                                              check):
    path = tmp_path / "sel"
    v0 = write_table(features_frame(10), path, mode="overwrite", properties=OLD)
    delta = check(path)
    delta.table().alter.set_table_properties({"delta.logRetentionDuration": "interval 60 days"})
    before = delta.version()
    v1 = write_table(features_frame(4, offset=500), path, mode="overwrite", properties=NEW,
                     commit_info={"job": "rank", "mlflow_run_id": "run-new"})
    assert v0 == 0 and v1 == before + 1 == delta.version()
    # The version before: old rows, old properties. The new one: new rows, new properties,
    # the old run's key gone (it described the old rows), Delta's own setting kept.
    assert delta.table(before).metadata().configuration["nag.mlflow_run_id"] == "run-old"
    assert _rows_at(delta, spark, path, before) == (10, 10, 10, 10)
    assert dict(delta.table(v1).metadata().configuration) == {
        **NEW, "delta.logRetentionDuration": "interval 60 days"}
    assert _rows_at(delta, spark, path, v1) == (4, 4, 4, 4)
    docids = sorted(delta.table(v1).to_pyarrow_table().column("docid").to_pylist())
    assert docids[0] == "doc-000500"
    # No version anywhere pairs the new run's properties with other rows.
    for v in range(v1 + 1):
        props = delta.table(v).metadata().configuration
        if props.get("nag.mlflow_run_id") == "run-new":
            assert delta.table(v).to_pyarrow_table().num_rows == 4, v
    last = [json.loads(x) for x in (path / "_delta_log" / f"{v1:020d}.json").read_text().splitlines()]
    kinds = [next(iter(a)) for a in last]
    assert kinds[0] == "commitInfo" and "metaData" in kinds and "add" in kinds and "remove" in kinds
    info = delta.history()[0]
    assert info["mlflow_run_id"] == "run-new" and info["operation"] == "WRITE"


def test_a_new_table_with_properties_is_one_version(spark, tmp_path, features_frame, check):
    path = tmp_path / "feats"
    assert write_table(features_frame(7), path, properties=NEW) == 0
    delta = check(path)
    assert delta.version() == 0 and delta.properties() == NEW
    assert _rows_at(delta, spark, path, 0) == (7, 7, 7, 7)
    assert not (path / "_nag_staging").exists()  # no empty staging area left behind


def test_an_overwrite_that_loses_the_race_lands_on_top_of_the_winner(spark, tmp_path,
                                                                     features_frame, check):
    from nag_spark.delta.deltars_writer import add_actions, open_table
    from nag_spark.delta.staging import StagedFile

    path = tmp_path / "sel"
    write_table(features_frame(6), path, mode="overwrite", properties=OLD)
    location = Location.parse(str(path))
    stale = open_table(location)                       # what a slow writer saw at version 0
    write_table(features_frame(3, offset=100), path, mode="overwrite", properties=OLD)  # v1
    # The slow writer's file, already in the table folder, committed on its stale view.
    features_frame(2, offset=900, partitions=1).toPandas().to_parquet(path / "slow.parquet")
    adds = [a for a, _ in add_actions(location, [StagedFile(str(path / "slow.parquet"), "slow.parquet")])]
    schema = open_table(location).schema().to_arrow()
    import pyarrow as pa

    version = log_commit.commit(location, stale, mode="overwrite", arrow_schema=pa.schema(schema),
                                adds=adds, partition_by=[], properties=NEW, custom={},
                                scratch=str(tmp_path))
    delta = check(path)
    assert version == 2 == delta.version()
    # It removed what was live at version 1 (not only what it had seen at version 0).
    assert delta.table().to_pyarrow_table().num_rows == 2 and delta.duckdb_count() == 2
    assert delta.properties()["nag.mlflow_run_id"] == "run-new"
    assert delta.table(1).to_pyarrow_table().num_rows == 3


def test_a_create_that_loses_the_race_says_so_and_writes_nothing(tmp_path, features_frame, check):
    import pyarrow as pa

    path = tmp_path / "t"
    write_table(features_frame(2), path, properties=NEW)
    with pytest.raises(log_commit.VersionTaken):
        log_commit.commit(Location.parse(str(path)), None, mode="append",
                          arrow_schema=pa.schema([("docid", pa.string())]), adds=[],
                          partition_by=[], properties=OLD, custom={}, scratch=str(tmp_path))
    assert check(path).version() == 0 and check(path).properties() == NEW


def test_tables_with_features_this_writer_does_not_know_take_the_documented_two_commits(
        spark, tmp_path, features_frame, check):
    # Change data feed raises the writer protocol to 4: a hand-written commit would have to
    # write change files too, so the delta-rs path (data, then properties) is used instead.
    path = tmp_path / "cdf"
    write_table(features_frame(3), path, mode="overwrite", properties=OLD)
    check(path).table().alter.set_table_properties({"delta.enableChangeDataFeed": "true"})
    before = check(path).version()
    location = Location.parse(str(path))
    from nag_spark.delta.deltars_writer import open_table

    assert "protocol" in log_commit.unusable_reason(location, open_table(location), "{}")
    write_table(features_frame(5, offset=50), path, mode="overwrite", properties=NEW)
    delta = check(path)
    assert delta.version() == before + 2
    assert delta.properties()["nag.mlflow_run_id"] == "run-new"
    assert delta.table().to_pyarrow_table().num_rows == 5


def test_spark_writer_sets_properties_and_rows_in_one_statement(monkeypatch):
    # Spark's Delta writer cannot run here (no Delta jars, Maven unreachable): a stand-in
    # session records the SQL it is given. One CREATE OR REPLACE ... TBLPROPERTIES ... AS
    # SELECT is one Delta commit holding the new metadata and the new files.
    from nag_spark.delta import spark_writer

    class Conf(dict):
        def get(self, key, default=None):
            return super().get(key, default)

        def set(self, key, value):
            self[key] = value

        def unset(self, key):
            self.pop(key, None)

    class Session:
        def __init__(self):
            self.sql_seen, self.conf, self.catalog = [], Conf(), self

        def sql(self, text):
            self.sql_seen.append(text)
            return self

        def collect(self):
            return [{"version": 4, "key": "k", "value": "v"}]

        def dropTempView(self, name):
            pass

    class Frame:
        def __init__(self, session):
            self.sparkSession = session

        def createOrReplaceTempView(self, name):
            pass

    session = Session()
    monkeypatch.setattr(spark_writer, "table_exists", lambda *a: True)  # an overwrite
    spark_writer.write(Frame(session), "/t", False, mode="overwrite", properties=NEW)
    writes = [s for s in session.sql_seen if "AS SELECT" in s]
    assert len(writes) == 1
    assert writes[0].startswith("CREATE OR REPLACE TABLE delta.`/t` USING DELTA TBLPROPERTIES (")
    assert "'nag.mlflow_run_id' = 'run-new'" in writes[0]
