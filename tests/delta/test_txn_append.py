"""Idempotent appends with Delta transaction identifiers (delta/txn_append.py), checked
by readers independent of ours: ``deltalake`` for versions, rows and txn versions, the raw
``_delta_log`` JSON for the actions (the ``txn`` action is the protocol's own)."""
from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyspark.sql.types import LongType, StringType, StructField, StructType

from nag_spark.delta.txn_append import TableMoved, TxnAppender, create_table

SCHEMA = StructType([StructField("docid", StringType()), StructField("n", LongType())])


def _file(table, name, docids):
    pq.write_table(pa.table({"docid": docids, "n": pa.array(range(len(docids)), pa.int64())}),
                   os.path.join(table, name))
    return name


def _log(table, version):
    with open(os.path.join(table, "_delta_log", f"{version:020d}.json"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture
def table(tmp_path):
    path = str(tmp_path / "t")
    assert create_table(path, SCHEMA, {"nag.kind": "features", "nag.top_k": 20},
                        {"job": "extract", "step": "create"}) == 0
    return path


def test_create_table_sets_schema_and_properties_once(table):
    dt = DeltaTable(table)
    assert dt.version() == 0
    assert dict(dt.metadata().configuration) == {"nag.kind": "features", "nag.top_k": "20"}
    assert [f.name for f in dt.schema().fields] == ["docid", "n"]
    # A second job creating the same table at the same moment finds it there: no error, no
    # second version.
    assert create_table(table, SCHEMA, {"nag.kind": "features"}) == 0
    assert DeltaTable(table).version() == 0


def test_append_commits_files_and_txns_in_one_version(table):
    app = TxnAppender(table)
    assert app.committed("nag-extract:u1") is None
    name = _file(table, "part-a.parquet", ["a", "b"])
    assert app.append([name], [("nag-extract:u1", 5), ("nag-extract:u2", 2)],
                      {"job": "extract", "job_id": "j1"}) == 1
    dt = DeltaTable(table)
    assert dt.version() == 1
    assert dt.transaction_version("nag-extract:u1") == 5
    assert dt.transaction_version("nag-extract:u2") == 2
    assert sorted(dt.to_pyarrow_table().column("docid").to_pylist()) == ["a", "b"]
    actions = _log(table, 1)
    assert {"txn": {"appId": "nag-extract:u1", "version": 5}} in actions
    add, = [a["add"] for a in actions if "add" in a]
    assert add["path"] == name and json.loads(add["stats"])["numRecords"] == 2
    info, = [a["commitInfo"] for a in actions if "commitInfo" in a]
    assert info["job"] == "extract" and info["job_id"] == "j1"
    assert app.committed("nag-extract:u1") == 5 and app.files() == [name]


def test_a_commit_on_a_moved_table_writes_nothing(table):
    first, second = TxnAppender(table), TxnAppender(table)
    mine = _file(table, "part-mine.parquet", ["x"])
    theirs = _file(table, "part-theirs.parquet", ["y", "z"])
    first.append([theirs], [("nag-extract:u1", 3)], {"job": "extract", "job_id": "jother"})
    # Same app id or not: the second appender tried on version 0, which is no longer the latest.
    for txns in ([("nag-extract:u1", 3)], [("nag-extract:u9", 1)]):
        with pytest.raises(TableMoved):
            second.append([mine], txns)
        assert DeltaTable(table).version() == 1
        assert DeltaTable(table).transaction_version("nag-extract:u9") is None
    assert second.version == 0 and second.committed("nag-extract:u1") is None
    assert second.refresh() == 1
    (v, path, info), = second.added_since(0)
    assert (v, path, info["job_id"]) == (1, theirs, "jother")
    assert second.committed("nag-extract:u1") == 3
    # After looking, a commit on the new version goes through.
    assert second.append([mine], [("nag-extract:u9", 1)]) == 2
    assert sorted(DeltaTable(table).to_pyarrow_table().column("docid").to_pylist()) == ["x", "y", "z"]


def test_appender_stays_on_its_own_commit_while_others_commit_after(table):
    mine, theirs = TxnAppender(table), TxnAppender(table)
    mine.append([_file(table, "p1.parquet", ["a"])], [("nag-extract:u1", 1)])
    theirs.refresh()
    theirs.append([_file(table, "p2.parquet", ["b"])], [("nag-extract:u2", 1)])
    # `mine` sits on version 1: the next commit is refused until it looked at version 2.
    assert mine.version == 1 and mine.committed("nag-extract:u2") is None
    with pytest.raises(TableMoved):
        mine.append([_file(table, "p3.parquet", ["c"])], [("nag-extract:u3", 1)])
    mine.refresh()
    assert [p for _, p, _ in mine.added_since(1)] == ["p2.parquet"]


def test_appending_to_a_missing_table_is_a_table_error(tmp_path):
    from nag_spark.errors import TableError

    with pytest.raises(TableError, match=str(tmp_path / "none")):
        TxnAppender(str(tmp_path / "none"))
