"""The staging area: Spark's files found with their partition values, moved with a record
of the moves, and a dead writer's leftovers removed (its moved files only when no commit
references them)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from nag_spark.delta.location import STAGING, Location
from nag_spark.delta.staging import MOVES_FILE, OWNER_FILE, Staging, cleanup_stale


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _spark_like_output(staging: Staging) -> None:
    data = staging.root + "/data"
    for rel in ("dataset=web/part-0.parquet", "dataset=a%20b/part-1.parquet",
                "dataset=__HIVE_DEFAULT_PARTITION__/part-2.parquet", "_SUCCESS",
                "dataset=web/.part-0.parquet.crc"):
        os.makedirs(os.path.dirname(f"{data}/{rel}"), exist_ok=True)
        open(f"{data}/{rel}", "wb").close()


def test_staged_files_keep_partition_values_and_skip_markers(tmp_path):
    staging = Staging.create(Location.parse(str(tmp_path / "t")), read_version=3)
    _spark_like_output(staging)
    files = sorted(staging.staged_files(["dataset"]), key=lambda f: f.relative)
    assert [f.relative for f in files] == ["dataset=__HIVE_DEFAULT_PARTITION__/part-2.parquet",
                                           "dataset=a%20b/part-1.parquet",
                                           "dataset=web/part-0.parquet"]
    assert [f.partition_values["dataset"] for f in files] == [None, "a b", "web"]
    owner = json.loads(open(f"{staging.root}/{OWNER_FILE}").read())
    assert owner["pid"] == os.getpid() and owner["read_version"] == 3


def test_moves_are_recorded_before_they_happen_and_remove_cleans_up(tmp_path):
    table = tmp_path / "t"
    staging = Staging.create(Location.parse(str(table)), read_version=None)
    _spark_like_output(staging)
    files = staging.staged_files(["dataset"])
    staging.move_into_table(files)
    assert (table / "dataset=web" / "part-0.parquet").is_file()
    assert sorted(json.loads(open(f"{staging.root}/{MOVES_FILE}").read())) == sorted(
        f.relative for f in files)
    staging.remove()
    assert not os.path.exists(staging.root)


def _crashed_writer(table):
    staging = Staging.create(Location.parse(str(table)), read_version=None)
    _spark_like_output(staging)
    staging.move_into_table(staging.staged_files(["dataset"]))
    owner = {"host": socket.gethostname(), "pid": _dead_pid(), "created": 0, "read_version": None}
    with open(f"{staging.root}/{OWNER_FILE}", "w") as fh:
        json.dump(owner, fh)
    return staging


def test_a_dead_writer_whose_commit_never_landed_leaves_nothing(tmp_path):
    table = tmp_path / "t"
    staging = _crashed_writer(table)
    assert cleanup_stale(Location.parse(str(table)), lambda v: set()) == 1
    assert not os.path.exists(staging.root)
    assert not (table / "dataset=web" / "part-0.parquet").exists()


def test_a_dead_writer_whose_commit_landed_keeps_its_files(tmp_path):
    table = tmp_path / "t"
    staging = _crashed_writer(table)
    moved = set(json.loads(open(f"{staging.root}/{MOVES_FILE}").read()))
    assert cleanup_stale(Location.parse(str(table)), lambda v: moved) == 1
    assert (table / "dataset=web" / "part-0.parquet").is_file()
    assert not os.path.exists(staging.root)
    assert not (table / STAGING).exists()  # the emptied area goes too


def test_files_no_commit_references_go_even_if_a_commit_names_the_writer(tmp_path):
    # Issue 13 item 3: a writer that committed its table's version 0 (schema and
    # properties, tagged with its write id) and died before its data commit. Judging by
    # the id, cleanup kept its moved files forever; judging by the files, they go.
    table = tmp_path / "t"
    staging = _crashed_writer(table)
    assert cleanup_stale(Location.parse(str(table)), lambda v: {"some/other-file.parquet"}) == 1
    assert not (table / "dataset=web" / "part-0.parquet").exists()
    assert not (table / "dataset=a%20b" / "part-1.parquet").exists()


def test_when_the_log_cannot_tell_the_files_are_kept(tmp_path):
    table = tmp_path / "t"
    _crashed_writer(table)
    assert cleanup_stale(Location.parse(str(table)), lambda v: None) == 1
    assert (table / "dataset=web" / "part-0.parquet").is_file()


def test_a_live_writer_is_left_alone(tmp_path):
    table = tmp_path / "t"
    staging = Staging.create(Location.parse(str(table)), read_version=None)
    assert cleanup_stale(Location.parse(str(table)), lambda v: set()) == 0
    assert os.path.isdir(staging.root) and STAGING in staging.root
