"""The driver's commits (spark/extract/committer.py): each unit lands once, whatever the
number of attempts or jobs that finished it, and a docid another job committed meanwhile
stops the job instead of being written twice.

Real Delta tables (delta-rs) and real data files; "another job" is a second committer or
appender on the same table, as a second driver process would be.
"""
from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyspark.sql.types import LongType, StringType, StructField, StructType

from nag_spark.delta.txn_append import TxnAppender, create_table
from nag_spark.errors import TableError
from nag_spark.spark.extract.committer import UnitCommitter
from nag_spark.spark.extract.job_files import JobFiles, UnitTally
from nag_spark.spark.extract.units import APP_ID_PREFIX, unit_id

SCHEMA = StructType([StructField("docid", StringType()), StructField("n", LongType())])
U1, U2, U3 = (unit_id("in.parquet", 999, f"rg0:{i}+10") for i in (0, 10, 20))


@pytest.fixture
def table(tmp_path):
    path = str(tmp_path / "feats")
    create_table(path, SCHEMA, {"nag.kind": "features"})
    return path


def finish(job: JobFiles, unit: str, attempt: str, docids: list[str]) -> str:
    """What a task attempt leaves: its data file and its done marker."""
    from nag_spark.spark.extract.units import WorkUnit

    with job.data_writer(WorkUnit(unit, "in.parquet", "parquet", rows=len(docids)), attempt) as w:
        w.write(pa.table({"docid": docids, "n": pa.array(range(len(docids)), pa.int64())}))
        name = w.finish()
    tally = UnitTally(unit, APP_ID_PREFIX + unit, 0, attempt, True)
    tally.rows_in = tally.docs = len(docids)
    tally.file, tally.started, tally.ended = name, 100.0, 102.5
    job.mark_done(tally.as_marker())
    return name


def docids(table, version=None):
    return sorted(DeltaTable(table, version=version).to_pyarrow_table(columns=["docid"])
                  .column("docid").to_pylist())


def committer(table, job, units=(U1, U2, U3)):
    return UnitCommitter(table, job, {u: None for u in units}, {"job": "extract", "job_id": job.job_id})


def test_units_commit_once_and_duplicate_attempts_are_deleted(table):
    job = JobFiles(table, "jmine").create()
    c = committer(table, job)
    first = finish(job, U1, "a1", ["d0", "d1"])
    retry = finish(job, U1, "a2", ["d0", "d1"])     # a speculative copy finished too
    other = finish(job, U2, "a3", ["d2"])
    assert c.poll() == 2
    assert docids(table) == ["d0", "d1", "d2"]
    dt = DeltaTable(table)
    assert dt.transaction_version(APP_ID_PREFIX + U1) == 2 * 2 + 1
    assert sorted(os.path.basename(u) for u in dt.file_uris()) == sorted([first, other])
    assert not os.path.exists(os.path.join(table, retry))
    assert c.tally.units == 2 and c.tally.docs == 3 and c.tally.busy_seconds == pytest.approx(7.5)
    # An attempt finishing after its unit was committed is dropped the same way.
    late = finish(job, U1, "a4", ["d0", "d1"])
    assert c.poll() == 0
    assert not os.path.exists(os.path.join(table, late))
    assert DeltaTable(table).version() == dt.version() and job.done_markers() == []


def test_a_unit_committed_by_another_job_meanwhile_is_skipped(table):
    mine, theirs = JobFiles(table, "jmine").create(), JobFiles(table, "jtheirs").create()
    c = committer(table, mine)
    their_file = finish(theirs, U1, "b1", ["d0", "d1"])
    assert committer(table, theirs).poll() == 1        # the other job got there first
    my_file = finish(mine, U1, "a1", ["d0", "d1"])
    keep = finish(mine, U2, "a2", ["d2"])
    assert c.poll() == 1
    assert c.tally.units == 1 and c.tally.units_elsewhere == 1
    assert docids(table) == ["d0", "d1", "d2"]
    live = sorted(os.path.basename(u) for u in DeltaTable(table).file_uris())
    assert live == sorted([their_file, keep])
    assert not os.path.exists(os.path.join(table, my_file))


def test_a_foreign_commit_with_an_overlapping_docid_stops_the_job(table):
    mine = JobFiles(table, "jmine").create()
    c = committer(table, mine)
    # Another extraction (another input holding some of the same documents) commits first.
    TxnAppender(table).append(
        [finish(JobFiles(table, "jother").create(), U3, "b1", ["d5", "d7"])],
        [(APP_ID_PREFIX + U3, 5)], {"job": "extract", "mlflow_run_id": "run42"})
    before = DeltaTable(table).version()
    finish(mine, U1, "a1", ["d1", "d5", "d7"])
    with pytest.raises(TableError) as err:
        c.poll()
    msg = str(err.value)
    assert table in msg and f"version {before}" in msg and "run42" in msg
    assert "2 docids" in msg and "'d5'" in msg and "'d7'" in msg
    # Nothing of ours was committed.
    assert DeltaTable(table).version() == before and docids(table) == ["d5", "d7"]
    assert DeltaTable(table).transaction_version(APP_ID_PREFIX + U1) is None


def test_a_foreign_commit_without_overlap_is_committed_on_top(table):
    mine = JobFiles(table, "jmine").create()
    c = committer(table, mine)
    TxnAppender(table).append([finish(JobFiles(table, "jother").create(), U3, "b1", ["x"])],
                              [(APP_ID_PREFIX + U3, 3)])
    finish(mine, U1, "a1", ["d1"])
    assert c.poll() == 1
    assert DeltaTable(table).version() == 2 and docids(table) == ["d1", "x"]
    assert c.tally.version == 2


def test_commits_made_between_planning_and_the_committer_start_are_checked(table):
    # The job planned on version 0 (its skip list of present docids is from there); another
    # job committed an overlapping docid before this job's committer started.
    planned = DeltaTable(table).version()
    TxnAppender(table).append([finish(JobFiles(table, "jother").create(), U3, "b1", ["d5"])],
                              [(APP_ID_PREFIX + U3, 3)])
    mine = JobFiles(table, "jmine").create()
    c = UnitCommitter(table, mine, {U1: None}, {"job": "extract"}, base_version=planned)
    finish(mine, U1, "a1", ["d4", "d5"])
    with pytest.raises(TableError, match="already holds 1 docids"):
        c.poll()
    assert docids(table) == ["d5"]


def test_a_foreign_commit_is_checked_against_every_later_batch_too(table):
    # The other job's commit does not overlap this job's first batch, but its second.
    mine = JobFiles(table, "jmine").create()
    c = committer(table, mine)
    TxnAppender(table).append([finish(JobFiles(table, "jother").create(), U3, "b1", ["d8", "d9"])],
                              [(APP_ID_PREFIX + U3, 5)], {"job": "extract"})
    finish(mine, U1, "a1", ["d1", "d2"])
    assert c.poll() == 1                                # committed on top of the other job
    finish(mine, U2, "a2", ["d3", "d9"])
    with pytest.raises(TableError, match=r"version 1, .*already holds 1 docids .*'d9'"):
        c.poll()                                        # the table did not move since: no conflict
    assert docids(table) == ["d1", "d2", "d8", "d9"]    # from Delta's side, yet d9 is not doubled
