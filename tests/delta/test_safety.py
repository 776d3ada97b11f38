"""Failure safety: foreign paths, a writer killed before its commit, concurrent appends."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO
from nag_spark.delta import read_table, table_exists, write_table
from nag_spark.errors import TableError

SCRIPT = "tests/delta/scripts/delta_write_job.py"


def _start_writer(path, *, offset, env=None, master="local[1]"):
    """A writer in its own process group, so the test can kill it and its JVM together."""
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("NAG_DELTA_WRITER", None)
    return subprocess.Popen(
        [sys.executable, SCRIPT, "--path", str(path), "--rows", "25", "--offset", str(offset),
         "--master", master, "--job", f"writer-{offset}"],
        cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )


def test_not_a_delta_table_is_refused_untouched(spark, tmp_path, features_frame):
    foreign = tmp_path / "plain"
    foreign.mkdir()
    (foreign / "data.csv").write_text("a,b\n1,2\n")
    a_file = tmp_path / "file.parquet"
    a_file.write_bytes(b"not delta")
    for target in (foreign, a_file):
        before = sorted(p.name for p in tmp_path.rglob("*"))
        with pytest.raises(TableError, match=str(target)):
            write_table(features_frame(3), target)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before
        assert not table_exists(target)
    with pytest.raises(TableError, match="no Delta table"):
        read_table(spark, foreign)


def test_writer_killed_before_commit_leaves_table_unchanged(spark, tmp_path, features_frame,
                                                            check):
    path = tmp_path / "t"
    write_table(features_frame(10), path, properties={"nag.kind": "features"})
    delta = check(path)
    version, files = delta.version(), delta.data_files_on_disk()

    marker = tmp_path / "paused"
    proc = _start_writer(path, offset=1000,
                         env={"NAG_DELTA_TEST_PAUSE": f"precommit:{marker}"})
    deadline = time.time() + 300
    while not marker.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"writer never reached the commit point (rc {proc.returncode}):\n{err[-4000:]}")
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its JVM, mid-write
    proc.communicate(timeout=60)

    # Its data files were written and moved in, but never committed.
    assert len(delta.data_files_on_disk() - files) == 2
    assert list((path / "_nag_staging").iterdir())
    assert delta.version() == version
    assert delta.polars().height == 10 and delta.duckdb_count() == 10
    assert read_table(spark, path).count() == 10

    # The next write lands, and removes the dead writer's staging and uncommitted files.
    assert write_table(features_frame(5, offset=100), path) == version + 1
    assert delta.polars().height == 15
    assert not (path / "_nag_staging").exists()
    assert len(delta.data_files_on_disk()) == len(delta.table().file_uris())


def test_two_concurrent_appends_both_land(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    write_table(features_frame(5), path, properties={"nag.kind": "features"})
    procs = [_start_writer(path, offset=o) for o in (1000, 2000)]
    for proc in procs:
        out, err = proc.communicate(timeout=500)
        assert proc.returncode == 0, err[-4000:]
        assert "VERSION" in out
    delta = check(path)
    assert delta.polars().height == 5 + 25 + 25
    assert delta.duckdb_count() == 55
    jobs = {h.get("job") for h in delta.history()}
    assert {"writer-1000", "writer-2000"} <= jobs
    assert delta.version() == 2  # create (rows and properties in one), then one per writer
    assert not (path / "_nag_staging").exists()
