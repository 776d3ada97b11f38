"""The files one extraction job shares between its tasks and its driver.

Inside the features table's folder::

    part-<unit>-<job>-<attempt>.parquet     a unit's rows, invisible to readers until committed
    _nag_staging/<job>/owner.json           who runs the job (host, pid): dead jobs are cleaned up
    _nag_staging/<job>/done/<unit>.<attempt>.json       a finished attempt (the commit's input)
    _nag_staging/<job>/progress/<unit>.<attempt>.json   live counts of a running attempt

Markers are written to a temporary name and renamed, so the driver never reads half a file.
Several attempts of one unit (a retried or speculative task) each write their own files;
the driver commits the first to finish and deletes the others.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field

from ...logs import get_logger

log = get_logger(__name__)

PAUSE_ENV = "NAG_EXTRACT_TEST_PAUSE"          # "<stage>:<marker file>": announce, then wait
FAIL_ONCE_ENV = "NAG_EXTRACT_TEST_FAIL_ONCE"  # "<flag file>": the first attempt to see it fails


def attempt_id() -> str:
    """Unique per task attempt (Spark's attempt id where there is a task, plus randomness)."""
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if ctx is not None:
            return f"a{ctx.taskAttemptId()}-{uuid.uuid4().hex[:6]}"
    except Exception:  # noqa: BLE001 - outside Spark (tests, the driver)
        pass
    return f"l{os.getpid()}-{uuid.uuid4().hex[:6]}"


def data_file_name(unit_id: str, job_id: str, attempt: str) -> str:
    return f"part-{unit_id}-{job_id}-{attempt}.parquet"


def unit_of_file(name: str) -> str | None:
    """The unit id in a data file name written by extraction (None for other files).

    >>> unit_of_file("part-079d3b3d1036b80dc0f5abe5-j1a2-a7-beef01.parquet")
    '079d3b3d1036b80dc0f5abe5'
    >>> unit_of_file("part-00000-0f1e-c000.snappy.parquet") is None
    True
    """
    base = name.rsplit("/", 1)[-1]
    parts = base.split("-")
    if len(parts) >= 4 and parts[0] == "part" and len(parts[1]) == 24 and parts[2].startswith("j"):
        return parts[1]
    return None


def job_of_file(name: str) -> str | None:
    base = name.rsplit("/", 1)[-1]
    return base.split("-")[2] if unit_of_file(base) else None


@dataclass
class UnitTally:
    """What one attempt of a unit did (the done marker's content)."""

    unit_id: str
    app_id: str
    done_rows: int
    attempt: str
    complete: bool = True
    rows_in: int = 0
    docs: int = 0
    tokens: int = 0
    empty: int = 0
    present: int = 0
    no_tokens: int = 0
    bad_utf8: int = 0
    file: str | None = None
    started: float = 0.0
    ended: float = 0.0
    load_seconds: float = 0.0
    updated: float = field(default_factory=time.time)

    def add(self, segment, out) -> None:
        self.rows_in += segment.rows_in
        self.docs += out.num_rows
        self.tokens += int(sum(len(t) for t in segment.tokens))
        self.empty += segment.empty
        self.present += segment.present
        self.no_tokens += segment.table.num_rows - out.num_rows
        self.updated = time.time()

    @property
    def version(self) -> int:
        """The unit's transaction version once committed (:func:`.units.txn_version`)."""
        from .units import txn_version

        return txn_version(self.done_rows + self.rows_in, self.complete)

    def as_marker(self) -> dict:
        return dict(asdict(self), version=self.version)


class _DataWriter:
    """Streams Arrow tables into one parquet file; no file at all when no row comes."""

    def __init__(self, path: str):
        self.path, self.writer = path, None

    def write(self, table) -> None:
        import pyarrow.parquet as pq

        if table.num_rows == 0:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="snappy")
        self.writer.write_table(table)

    def finish(self) -> str | None:
        if self.writer is None:
            return None
        self.writer.close()
        self.writer = None
        return os.path.basename(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.writer is not None:  # failed attempt: close it; the driver removes the file
            self.writer.close()


def _write_json(path: str, value) -> None:
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:6]}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
    os.replace(tmp, path)


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class JobFiles:
    """Paths of one job inside a local (or mounted) table folder."""

    table_dir: str
    job_id: str

    @property
    def staging(self) -> str:
        from ...delta.location import STAGING

        return os.path.join(self.table_dir, STAGING, self.job_id)

    def create(self) -> "JobFiles":
        import socket

        for sub in ("done", "progress"):
            os.makedirs(os.path.join(self.staging, sub), exist_ok=True)
        _write_json(os.path.join(self.staging, "owner.json"),
                    {"host": socket.gethostname(), "pid": os.getpid(), "created": time.time()})
        return self

    def data_writer(self, unit, attempt: str) -> _DataWriter:
        return _DataWriter(os.path.join(self.table_dir, data_file_name(unit.unit_id, self.job_id, attempt)))

    def heartbeat(self, tally: UnitTally, extra_rows: int = 0) -> None:
        """The attempt's live counts; ``extra_rows``: rows of the segment in progress."""
        beat = tally.as_marker()
        beat["rows_in"] += int(extra_rows)
        _write_json(os.path.join(self.staging, "progress", f"{tally.unit_id}.{tally.attempt}.json"),
                    beat)

    def mark_done(self, marker: dict) -> None:
        _write_json(os.path.join(self.staging, "done", f"{marker['unit_id']}.{marker['attempt']}.json"),
                    marker)

    def _folder(self, sub: str) -> list[tuple[str, dict]]:
        folder = os.path.join(self.staging, sub)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            value = _read_json(os.path.join(folder, n))
            if value is not None:
                out.append((os.path.join(folder, n), value))
        return out

    def done_markers(self) -> list[tuple[str, dict]]:
        return self._folder("done")

    def heartbeats(self) -> list[dict]:
        return [v for _, v in self._folder("progress")]

    def forget(self, marker_path: str, marker: dict) -> None:
        """Drop a handled marker and its attempt's heartbeat."""
        for p in (marker_path, os.path.join(self.staging, "progress",
                                            f"{marker['unit_id']}.{marker['attempt']}.json")):
            try:
                os.remove(p)
            except FileNotFoundError:
                pass

    def remove_data_file(self, name: str | None) -> None:
        if name:
            try:
                os.remove(os.path.join(self.table_dir, name))
            except FileNotFoundError:
                pass


def pause_for_tests(stage: str) -> None:
    value = os.environ.get(PAUSE_ENV, "")
    want, _, marker = value.partition(":")
    if want == stage and marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(600)


def fail_once_for_tests(job: JobFiles) -> None:
    flag = os.environ.get(FAIL_ONCE_ENV)
    if flag:
        try:
            fd = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        raise RuntimeError("injected task failure (test): Spark retries this attempt")
