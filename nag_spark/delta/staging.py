"""A private staging area inside the table for files Spark writes before the commit.

Spark's executors write into ``<table>/_nag_staging/<write id>/data``. Delta readers never
look there (it is not referenced by the log, and names starting with ``_`` are hidden), so
a job that dies while Spark is writing leaves the table exactly as it was. Just before the
commit the driver moves the parquet files to their final place in the table (keeping
Spark's unique file names) and records the moves in ``moves.json``; the staging folder is
then removed (and ``_nag_staging/`` with it once empty). A later write removes staging
folders whose writer is gone, and deletes the moved files that no commit references, so
crashes leave no garbage behind either.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

from pyarrow import fs as pafs

from ..logs import get_logger
from .location import STAGING, Location

log = get_logger(__name__)

OWNER_FILE = "owner.json"
MOVES_FILE = "moves.json"
# A writer on another host cannot be probed; after this long its staging is abandoned.
STALE_AFTER_S = 24 * 3600
# Commit info key that ties a commit to its staging folder (see ``cleanup_stale``).
WRITE_ID_KEY = "nagWriteId"
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass
class StagedFile:
    """One parquet file written by Spark, before and after the move."""

    staged: str                       # path inside the filesystem, under staging/data
    relative: str                     # final path relative to the table root
    partition_values: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Staging:
    """A staging folder owned by one write."""

    location: Location
    write_id: str
    read_version: int | None

    @property
    def root(self) -> str:
        _, table_root = self.location.filesystem()
        return f"{table_root.rstrip('/')}/{STAGING}/{self.write_id}"

    @property
    def data_spark_uri(self) -> str:
        """Where Spark writes (a folder that must not exist yet)."""
        return self.location.child_uri(f"{STAGING}/{self.write_id}/data")

    @classmethod
    def create(cls, location: Location, read_version: int | None) -> "Staging":
        staging = cls(location, uuid.uuid4().hex, read_version)
        filesystem, _ = location.filesystem()
        for attempt in range(3):
            try:
                filesystem.create_dir(staging.root, recursive=True)
                break
            except FileNotFoundError:
                # Another writer removed the (then empty) staging area between our two
                # mkdirs (see ``remove``): make it again.
                if attempt == 2:
                    raise
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "created": time.time(),
                 "read_version": read_version}
        _write_json(filesystem, f"{staging.root}/{OWNER_FILE}", owner)
        return staging

    def staged_files(self, partition_by: list[str]) -> list[StagedFile]:
        """The parquet files Spark wrote, with their partition values from the folder names."""
        filesystem, _ = self.location.filesystem()
        data = f"{self.root}/data"
        if filesystem.get_file_info(data).type == pafs.FileType.NotFound:
            return []
        out = []
        for info in filesystem.get_file_info(pafs.FileSelector(data, recursive=True)):
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(data):].lstrip("/")
            base = rel.rsplit("/", 1)[-1]
            # Spark's markers (_SUCCESS) and Hadoop checksums (.crc) stay behind.
            if base.startswith(("_", ".")) or not base.endswith(".parquet"):
                continue
            values: dict[str, str | None] = {}
            for part in rel.split("/")[:-1]:
                key, sep, raw = part.partition("=")
                if sep and key in partition_by:
                    raw = unquote(raw)  # Spark escapes special characters as %XX
                    values[key] = None if raw == _HIVE_NULL else raw
            out.append(StagedFile(info.path, rel, values))
        return out

    def move_into_table(self, files: list[StagedFile]) -> None:
        """Move files to their final place; the moves are recorded first for crash cleanup."""
        filesystem, table_root = self.location.filesystem()
        _write_json(filesystem, f"{self.root}/{MOVES_FILE}", [f.relative for f in files])
        for f in files:
            target = f"{table_root.rstrip('/')}/{f.relative}"
            parent = target.rsplit("/", 1)[0]
            filesystem.create_dir(parent, recursive=True)
            filesystem.move(f.staged, target)

    def remove(self) -> None:
        """Delete this write's folder, and the staging area itself when no other write
        uses it, so a table keeps no empty ``_nag_staging/``."""
        filesystem, _ = self.location.filesystem()
        try:
            filesystem.delete_dir(self.root)
        except FileNotFoundError:
            pass
        remove_empty_area(self.location)


def remove_empty_area(location: Location) -> None:
    """Remove ``<table>/_nag_staging`` if it is empty (local tables: object stores have no
    empty folders). ``rmdir`` refuses a folder that another writer has just filled."""
    if location.local:
        try:
            os.rmdir(os.path.join(location.uri, STAGING))
        except OSError:
            pass


def _write_json(filesystem, path: str, value) -> None:
    with filesystem.open_output_stream(path) as out:
        out.write(json.dumps(value).encode())


def _read_json(filesystem, path: str):
    try:
        with filesystem.open_input_stream(path) as inp:
            return json.loads(inp.read().decode())
    except (FileNotFoundError, OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(owner: dict | None, mtime: float | None, now: float) -> bool:
    if owner is None:
        # Owner file not written yet (a writer that is just starting) or unreadable.
        return mtime is not None and now - mtime > STALE_AFTER_S
    if owner.get("host") == socket.gethostname():
        return not _pid_alive(int(owner.get("pid", -1)))
    return now - float(owner.get("created", now)) > STALE_AFTER_S


def cleanup_stale(location: Location, committed_files) -> int:
    """Remove staging folders of dead writers; returns how many were removed.

    Parameters
    ----------
    location : Location
        The table.
    committed_files : callable
        ``committed_files(read_version) -> set[str] | None``: table-relative paths of the
        files added by commits made after ``read_version`` (None: since the table began),
        or None when that cannot be told. A crashed writer's moved files are deleted
        exactly when no commit references them: a commit that landed keeps its files
        (time travel and VACUUM own them), one that never landed leaves nothing behind.
    """
    filesystem, table_root = location.filesystem()
    area = f"{table_root.rstrip('/')}/{STAGING}"
    if filesystem.get_file_info(area).type != pafs.FileType.Directory:
        return 0
    now = time.time()
    removed = 0
    for info in filesystem.get_file_info(pafs.FileSelector(area, recursive=False)):
        if info.type != pafs.FileType.Directory:
            continue
        owner = _read_json(filesystem, f"{info.path}/{OWNER_FILE}")
        mtime = info.mtime.timestamp() if info.mtime else None
        if not _is_stale(owner, mtime, now):
            continue
        moves = _read_json(filesystem, f"{info.path}/{MOVES_FILE}") or []
        committed = committed_files((owner or {}).get("read_version")) if moves else set()
        if committed is None:
            moves = []  # the log no longer tells: keep them (VACUUM removes them if unused)
        for rel in (m for m in moves if m not in committed):
            try:
                filesystem.delete_file(f"{table_root.rstrip('/')}/{rel}")
            except FileNotFoundError:
                pass
        try:
            filesystem.delete_dir(info.path)
        except FileNotFoundError:
            pass
        removed += 1
        log.info("removed stale staging %s of a writer that did not finish (%s)", info.path,
                 f"pid {owner.get('pid')} on {owner.get('host')}" if owner else "no owner")
    if removed:
        remove_empty_area(location)
    return removed
