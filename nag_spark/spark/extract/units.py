"""Work units: the pieces of an input that extraction processes and commits exactly once.

A unit is a slice of one input file: ``unit_rows`` rows of one parquet row group (parquet
folders and Delta tables), or a byte range of a JSONL file (whole file when gzipped). Its
identity is derived from the input alone (the file's path inside the input, its size, a
digest of its first and last bytes, the slice), so a re-run, a second job on the same input, and a retried or speculative Spark
task all name the same unit the same way. Each commit carries a Delta transaction
identifier ``txn(appId = "nag-extract:<unit>", version = rows committed)``
(:attr:`WorkUnit.app_id`), which is what makes commits idempotent and lets a resumed job
skip, with one look at the table, every unit already committed. Files appended to the
input are new units, so a re-run processes exactly them.

Only file metadata is read here (parquet footers, file sizes and ends, the Delta log): the
driver's work grows with the number of files, not of documents.
"""
from __future__ import annotations

import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Sequence

from ...errors import InputError
from ...logs import get_logger

log = get_logger(__name__)

APP_ID_PREFIX = "nag-extract:"
JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")
# Byte range of one JSONL unit: about as many documents as a parquet unit of web text.
DEFAULT_UNIT_BYTES = 32 << 20


@dataclass(frozen=True)
class WorkUnit:
    """One slice of one input file.

    Attributes
    ----------
    unit_id : str
        Stable identity (hash of the file's path inside the input, its size and the slice).
    uri : str
        The file to read.
    kind : {"parquet", "json"}
    row_group, first_row, rows : int
        Parquet: the row group, the slice's first row inside it and its row count.
    start, end : int
        JSONL: the byte range ``[start, end)`` whose lines the unit owns (``end`` -1: to the
        end of the file).
    limit : int, optional
        Only the unit's first ``limit`` rows (``--limit``).
    """

    unit_id: str
    uri: str
    kind: str
    row_group: int = -1
    first_row: int = 0
    rows: int | None = None
    start: int = 0
    end: int = -1
    limit: int | None = None

    @property
    def app_id(self) -> str:
        """The Delta transaction identifier of this unit's commits."""
        return APP_ID_PREFIX + self.unit_id

    @property
    def wanted_rows(self) -> int | None:
        """Rows the unit holds for this run (``None``: unknown until read, JSONL)."""
        if self.limit is not None:
            return self.limit if self.rows is None else min(self.limit, self.rows)
        return self.rows


def txn_version(rows: int, complete: bool) -> int:
    """A unit's transaction version: twice the rows committed, plus one once it is complete.

    Versions only grow: a unit cut short by ``--limit`` and finished later goes from
    ``2k`` to ``2n + 1``.

    >>> txn_version(100, False), txn_version(100, True)
    (200, 201)
    """
    return 2 * int(rows) + int(bool(complete))


def rows_done(version: int | None) -> tuple[int, bool]:
    """``(rows committed, complete)`` of a unit's transaction version (None: nothing yet).

    >>> rows_done(None), rows_done(200), rows_done(201)
    ((0, False), (100, False), (100, True))
    """
    if version is None:
        return 0, False
    return int(version) // 2, bool(int(version) % 2)


def unit_id(relative: str, size: int, piece: str, fingerprint: str = "") -> str:
    """A short stable identity; it also appears in the names of the unit's data files.

    >>> unit_id("part-0.parquet", 1024, "rg0:0+8192")
    '079d3b3d1036b80dc0f5abe5'
    """
    raw = f"{relative}|{size}|{piece}" + (f"|{fingerprint}" if fingerprint else "")
    return hashlib.sha1(raw.encode()).hexdigest()[:24]


def file_fingerprint(uri: str, size: int, span: int = 1 << 16) -> str:
    """A digest of a file's first and last ``span`` bytes (a parquet file's tail is its
    footer: row group offsets and column statistics).

    Name and size alone do not tell two inputs apart: ``a/docs.parquet`` and
    ``b/docs.parquet`` of one size would share their units, and the second input's
    documents would be taken as committed and never extracted.
    """
    from .unit_reader import _open

    with _open(uri) as fh:
        head = fh.read(min(size, span))
        tail = b""
        if size > span:
            fh.seek(max(span, size - span))
            tail = fh.read()
    return hashlib.sha1(head + tail).hexdigest()[:16]


def file_fingerprints(files: Sequence[tuple[str, str, int]]) -> list[str]:
    """:func:`file_fingerprint` of every file (read in parallel)."""
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(files)))) as pool:
        return list(pool.map(lambda f: file_fingerprint(f[0], f[2]), files))


def _visible(name: str) -> bool:
    return not name.startswith(("_", "."))


def list_input_files(path: str, kind: str, version: int | None = None) -> list[tuple[str, str, int]]:
    """``(uri, path inside the input, size)`` of every data file, sorted by that path
    (a Delta input at ``version``, the one its validation read)."""
    if kind == "delta":
        return _delta_files(path, version)
    if os.path.isfile(path):
        return [(os.path.abspath(path), os.path.basename(path), os.path.getsize(path))]
    suffixes = JSON_SUFFIXES if kind == "json" else (".parquet",)
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if _visible(d))
        for name in files:
            if _visible(name) and name.endswith(suffixes):
                full = os.path.join(root, name)
                out.append((os.path.abspath(full), os.path.relpath(full, path), os.path.getsize(full)))
    return sorted(out, key=lambda f: f[1])


def _delta_files(path: str, version: int | None) -> list[tuple[str, str, int]]:
    from ...delta.deltars_writer import check_readable, require_table
    from ...delta.location import Location

    location = Location.parse(path)
    table = require_table(location, version)
    check_readable(table, location)
    if table.metadata().partition_columns:
        raise InputError(f"input Delta table {path} is partitioned; extraction reads "
                         "unpartitioned document tables (write the documents without partitions)")
    actions = table.get_add_actions(flatten=True)
    paths = [str(p) for p in actions.column("path").to_pylist()]
    sizes = [int(n) for n in actions.column("size_bytes").to_pylist()]
    root = location.uri.rstrip("/")
    files = [(f"{root}/{rel}", rel, size) for rel, size in zip(paths, sizes)]
    return sorted(files, key=lambda f: f[1])


def _parquet_row_groups(uri: str) -> list[int]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(uri).metadata
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: name it
        raise InputError(f"cannot read the parquet footer of input file {uri}: {exc}") from None
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def parquet_row_groups(files: Sequence[tuple[str, str, int]]) -> list[list[int]]:
    """Rows of every row group of every file (footers read in parallel)."""
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(files)))) as pool:
        return list(pool.map(lambda f: _parquet_row_groups(f[0]), files))


def parquet_units(files: Sequence[tuple[str, str, int]], groups: Sequence[Sequence[int]],
                  unit_rows: int, fingerprints: Sequence[str] | None = None) -> list[WorkUnit]:
    """Slices of ``unit_rows`` rows of every row group of every file, in file order."""
    units = []
    prints = fingerprints or [""] * len(files)
    for (uri, rel, size), counts, fp in zip(files, groups, prints):
        for g, n in enumerate(counts):
            for first in range(0, n, unit_rows):
                rows = min(unit_rows, n - first)
                units.append(WorkUnit(unit_id(rel, size, f"rg{g}:{first}+{rows}", fp), uri, "parquet",
                                      row_group=g, first_row=first, rows=rows))
    return units


def json_units(files: Sequence[tuple[str, str, int]], unit_bytes: int,
               fingerprints: Sequence[str] | None = None) -> list[WorkUnit]:
    """Byte ranges of ``unit_bytes`` of every JSONL file (a gzipped file is one unit)."""
    units = []
    for (uri, rel, size), fp in zip(files, fingerprints or [""] * len(files)):
        if uri.endswith(".gz") or size <= unit_bytes:
            units.append(WorkUnit(unit_id(rel, size, "all", fp), uri, "json"))
            continue
        for start in range(0, size, unit_bytes):
            end = min(size, start + unit_bytes)
            units.append(WorkUnit(unit_id(rel, size, f"b{start}-{end}", fp), uri, "json",
                                  start=start, end=end))
    return units


def apply_limit(units: Sequence[WorkUnit], limit: int | None, count_rows) -> list[WorkUnit]:
    """The units holding the first ``limit`` rows in unit order (the last one cut short).

    ``count_rows(unit)`` counts a unit whose row count is not in its metadata (JSONL).

    >>> us = [WorkUnit("a", "f", "parquet", rows=5), WorkUnit("b", "f", "parquet", rows=5)]
    >>> [(u.unit_id, u.wanted_rows) for u in apply_limit(us, 7, None)]
    [('a', 5), ('b', 2)]
    """
    if limit is None:
        return list(units)
    out, left = [], int(limit)
    for u in units:
        if left <= 0:
            break
        rows = u.rows if u.rows is not None else count_rows(u)
        u = replace(u, rows=rows)
        out.append(u if rows <= left else replace(u, limit=left))
        left -= min(rows, left)
    return out


def default_unit_rows(total_rows: int, slots: int, cap: int) -> int:
    """Rows per unit for a new table: at most ``cap`` (``--chunk-docs``), and small enough
    for 8 units per task slot, so that the last units do not leave slots idle (but not
    under 64 rows unless ``cap`` says so: each unit is a commit).

    >>> default_unit_rows(100_000, 2, 20_000), default_unit_rows(10_000_000, 2, 20_000)
    (6250, 20000)
    """
    return min(int(cap), max(64, math.ceil(max(1, total_rows) / (8 * max(1, slots)))))


def plan_units(path: str, kind: str, *, unit_rows: int | None, max_unit_rows: int,
               slots: int, limit: int | None = None, version: int | None = None,
               unit_bytes: int = DEFAULT_UNIT_BYTES) -> tuple[list[WorkUnit], int]:
    """Every unit of the input at ``path`` (``kind`` from
    :func:`~nag_spark.spark.inputs.detect_input_kind`) in a stable order, and the rows per
    parquet unit: ``unit_rows`` when the table already fixed it, else
    :func:`default_unit_rows` of the input's size."""
    from .unit_reader import count_json_rows

    files = list_input_files(path, kind, version)
    if not files:
        raise InputError(f"input {path} holds no data file")
    if kind == "json":
        units = json_units(files, unit_bytes, file_fingerprints(files))
        return apply_limit(units, limit, count_json_rows), int(unit_rows or max_unit_rows)
    groups = parquet_row_groups(files)
    total = sum(sum(g) for g in groups)
    rows = int(unit_rows or default_unit_rows(min(total, limit or total), slots, max_unit_rows))
    units = parquet_units(files, groups, rows, file_fingerprints(files))
    return apply_limit(units, limit, None), rows


def input_rows(units: Sequence[WorkUnit]) -> int | None:
    """Rows of all units when every count is known (parquet, or after a limit)."""
    counts = [u.wanted_rows for u in units]
    return None if any(c is None for c in counts) else int(sum(counts))
