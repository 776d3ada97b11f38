"""The files a job shares between its tasks and its driver (spark/extract/job_files.py),
and the clean-up of what dead jobs left (spark/extract/job_runner.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nag_spark.spark.extract import job_files
from nag_spark.spark.extract.job_files import (JobFiles, UnitTally, data_file_name, job_of_file,
                                               unit_of_file)
from nag_spark.spark.extract.job_runner import remove_dead_jobs
from nag_spark.spark.extract.units import WorkUnit, unit_id

UNIT = unit_id("part-0.parquet", 100, "rg0:0+10")


def test_data_file_names_carry_unit_and_job():
    name = data_file_name(UNIT, "jabc", "a7-beef01")
    assert unit_of_file(name) == UNIT and job_of_file(name) == "jabc"
    assert unit_of_file("sub/dir/" + name) == UNIT
    # Files of other writers (Spark, delta-rs) are not extraction files.
    for other in ("part-00000-0f1e2d3c-c000.snappy.parquet", "0-abc-0.parquet", "_delta_log"):
        assert unit_of_file(other) is None and job_of_file(other) is None


def test_markers_and_heartbeats_round_trip(tmp_path):
    job = JobFiles(str(tmp_path), "jone").create()
    owner = json.loads((tmp_path / "_nag_staging" / "jone" / "owner.json").read_text())
    assert owner["pid"] == os.getpid()
    tally = UnitTally(UNIT, "nag-extract:" + UNIT, done_rows=4, attempt="a1-x", complete=True)
    tally.rows_in, tally.docs = 6, 5
    job.heartbeat(tally)
    assert [b["rows_in"] for b in job.heartbeats()] == [6]
    marker = tally.as_marker()
    assert marker["version"] == 2 * (4 + 6) + 1
    job.mark_done(marker)
    # A marker being written (temporary name) is never read half-way.
    (tmp_path / "_nag_staging" / "jone" / "done" / "x.json.tmp-123").write_text("{")
    (path, read), = job.done_markers()
    assert read == marker
    job.forget(path, read)
    assert job.done_markers() == [] and job.heartbeats() == []
    job.forget(path, read)  # twice is harmless


def test_an_attempt_without_rows_writes_no_file(tmp_path):
    job = JobFiles(str(tmp_path), "jone").create()
    unit = WorkUnit(UNIT, "x", "parquet", rows=1)
    with job.data_writer(unit, "a1") as w:
        w.write(pa.table({"docid": pa.array([], pa.string())}))
        assert w.finish() is None
    with job.data_writer(unit, "a2") as w:
        w.write(pa.table({"docid": ["d1"]}))
        name = w.finish()
    assert name == data_file_name(UNIT, "jone", "a2")
    assert pq.read_table(tmp_path / name).column("docid").to_pylist() == ["d1"]
    job.remove_data_file(name)
    job.remove_data_file(name)
    assert not (tmp_path / name).exists()


def test_fail_once_fails_only_the_first_attempt(tmp_path, monkeypatch):
    flag = tmp_path / "flag"
    monkeypatch.setenv(job_files.FAIL_ONCE_ENV, str(flag))
    with pytest.raises(RuntimeError, match="injected task failure"):
        job_files.fail_once_for_tests(None)
    assert flag.exists()
    job_files.fail_once_for_tests(None)  # the retry goes through
    monkeypatch.setenv(job_files.PAUSE_ENV, "precommit:" + str(tmp_path / "m"))
    job_files.pause_for_tests("loaded")  # another stage: no pause
    assert not (tmp_path / "m").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_dead_jobs_are_removed_and_live_jobs_kept(tmp_path):
    table = tmp_path
    dead = JobFiles(str(table), "jdead").create()
    (table / "_nag_staging" / "jdead" / "owner.json").write_text(
        json.dumps({"host": os.uname().nodename, "pid": _dead_pid(), "created": 0}))
    live = JobFiles(str(table), "jlive").create()  # this process: alive
    committed = data_file_name(UNIT, "jdead", "a1")
    orphan = data_file_name(unit_id("x", 1, "y"), "jdead", "a2")
    live_file = data_file_name(UNIT, "jlive", "a3")
    for name in (committed, orphan, live_file, "part-00000-spark.snappy.parquet"):
        (table / name).write_bytes(b"x")
    assert remove_dead_jobs(str(table), {committed}) == 1
    assert not (table / orphan).exists() and not os.path.isdir(dead.staging)
    # A committed file, a running job's files and files of other writers stay.
    for name in (committed, live_file, "part-00000-spark.snappy.parquet"):
        assert (table / name).exists(), name
    assert os.path.isdir(live.staging)
    assert remove_dead_jobs(str(table), {committed}) == 0
