"""Scoring the pool from its Delta files in the Python workers (``--scan direct``).

Spark's reader decodes every NAG into a JVM row and hands it to Python again as Arrow:
about 926 bytes per document cross the JVM twice, and that, not the scoring, was most of
a ranking's CPU (README, ranking benchmark). Here each Spark task gets a few row groups of
the pinned version's parquet files, reads them with pyarrow inside its Python worker,
scores them, and returns only the small columns and the distances (about 50 bytes per
document) to Spark, which does everything after the scan as before: the pool checks, the
exact selection, the write. The scores are the same function of the same bytes, so the
selection is bit-identical to Spark's reader's.

The files come from the Delta log at the version the plan pinned (delta-rs), so the scan
reads exactly that snapshot. It is used only where reading the files is all a Delta reader
does (:func:`plan_direct_scan`): not with deletion vectors, column mapping, a reader feature
it does not know or partition columns, and only for a table on a filesystem the workers see
as local paths (a local disk, a shared mount, Databricks' ``/Volumes`` and ``/dbfs``
mounts). A table in object storage is read by Spark, with the cluster's credentials.
``--scan auto`` (the default) falls back to Spark's reader and says why; ``--scan direct``
refuses instead.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

from ...delta.location import Location, is_table_name
from ...errors import InputError, TableError
from ...logs import get_logger

log = get_logger(__package__)  # the ranking job's one logger (nag_spark.spark.rank)

SCAN_MODES = ("auto", "spark", "direct")
# Reader features that leave "read every file of the version" a correct read.
SAFE_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
# Rows a scan task reads (a few row groups): large enough that task start-up is noise,
# small enough that a 2-core machine still gets several tasks per core.
ROWS_PER_TASK = 1_000_000


def check_scan_mode(mode: str) -> str:
    if mode not in SCAN_MODES:
        raise InputError(f"--scan {mode!r}: expected one of {', '.join(SCAN_MODES)}")
    return mode


@dataclass(frozen=True)
class ScanTask:
    """Row groups ``first .. end-1`` of one parquet file."""

    path: str
    first: int
    end: int
    rows: int


@dataclass(frozen=True, eq=False)
class DirectScan:
    """The pinned version's files split into scan tasks, and the table's Arrow schema."""

    tasks: list[ScanTask]
    schema: object  # pyarrow.Schema of the table
    rows: int

    @property
    def files(self) -> int:
        return len({t.path for t in self.tasks})


class _NotDirect(Exception):
    """Why the files cannot be read directly (Spark's reader can)."""


def _open_version(pool: str, version: int):
    from ...delta.deltars_writer import open_table

    if is_table_name(pool):
        raise _NotDirect(f"{pool} is a catalog table name (its files are the catalog's)")
    location = Location.parse(pool)
    if not location.local:
        raise _NotDirect(f"{location.uri} is in object storage (Spark's reader has the "
                         "cluster's credentials)")
    try:
        table = open_table(location, version)
    except TableError as exc:
        raise _NotDirect(f"delta-rs cannot open it: {exc}") from None
    if table is None:
        raise _NotDirect(f"delta-rs finds no Delta table at {location.uri}")
    return table


def _check_protocol(table) -> None:
    protocol = table.protocol()
    features = set(protocol.reader_features or [])
    unsafe = sorted(features - SAFE_READER_FEATURES)
    if unsafe:
        raise _NotDirect(f"the table uses reader features {unsafe} (deletion vectors and "
                         "column mapping change what its files mean)")
    config = table.metadata().configuration or {}
    mapping = config.get("delta.columnMapping.mode", "none")
    if protocol.min_reader_version >= 2 and mapping != "none":
        raise _NotDirect(f"the table uses column mapping (mode {mapping})")
    if table.metadata().partition_columns:
        raise _NotDirect(f"the table is partitioned by {table.metadata().partition_columns} "
                         "(values in the folder names, not in the files)")


def _local_path(uri: str) -> str:
    """A path pyarrow opens on the local filesystem (delta-rs may give ``file://`` URIs)."""
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


def _row_groups(path: str) -> list[int]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
        raise TableError(f"cannot read the parquet footer of {path}: {exc}") from exc
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def split_tasks(files: Sequence[tuple[str, list[int]]], rows_per_task: int) -> list[ScanTask]:
    """Consecutive row groups of each file, about ``rows_per_task`` rows per task.

    >>> [(t.path, t.first, t.end) for t in split_tasks([("a", [5, 5, 5]), ("b", [2])], 10)]
    [('a', 0, 2), ('a', 2, 3), ('b', 0, 1)]
    """
    tasks = []
    for path, groups in files:
        first, rows = 0, 0
        for i, n in enumerate(groups):
            rows += n
            if rows >= rows_per_task:
                tasks.append(ScanTask(path, first, i + 1, rows))
                first, rows = i + 1, 0
        if first < len(groups):
            tasks.append(ScanTask(path, first, len(groups), rows))
    return tasks


def plan_direct_scan(pool: str, version: int, mode: str, parallelism: int) -> DirectScan | None:
    """The direct scan of ``pool`` at ``version``, or None where Spark's reader must scan.

    ``mode`` ``auto`` logs why the scan falls back; ``direct`` raises instead.

    Raises
    ------
    TableError
        ``mode="direct"`` and the table cannot be read directly; an unreadable footer.
    """
    from ...delta.deltars_writer import arrow_schema

    if check_scan_mode(mode) == "spark":
        return None
    try:
        table = _open_version(pool, version)
        _check_protocol(table)
    except _NotDirect as why:
        if mode == "direct":
            raise TableError(f"--scan direct cannot read pool {pool}: {why}; use --scan spark "
                             "(or auto)") from None
        log.info("pool %s is scanned by Spark's reader: %s", pool, why)
        return None
    paths = [_local_path(u) for u in table.file_uris()]
    with ThreadPoolExecutor(8) as threads:
        groups = list(threads.map(_row_groups, paths))
    rows = sum(map(sum, groups))
    # At least two tasks per core where the pool allows it, so no core idles at the end.
    per_task = max(1, min(ROWS_PER_TASK, rows // max(1, 2 * parallelism)))
    tasks = split_tasks(list(zip(paths, groups)), per_task)
    return DirectScan(tasks, arrow_schema(table), rows)


# The docid hash column the scan adds (:mod:`nag_spark.kernels.docid_hash`).
DOCID_HASH = "_nag_docid_hash"


def column_reader(schema, columns: Sequence[str]):
    """A function of one piece of a parquet file (an Arrow table): the ``columns`` as Arrow
    arrays in the types of ``schema`` (those Spark expects), a column missing from an older
    file read as nulls (Delta's schema evolution)."""
    import pyarrow as pa

    fields = [schema.field(c) for c in columns]

    def conform(table):
        out = []
        for f in fields:
            if f.name in table.column_names:
                col = table.column(f.name)
                col = col if col.type == f.type else col.cast(f.type)
            else:
                col = pa.nulls(len(table), f.type)
            out.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
        return out

    return conform


# Rows of a piece: the NAG buffer of 16384 rows (15 MB at L*K=560, 13 bits) is one the
# allocator reuses from piece to piece. Whole row groups (45 MB at 50k rows) were new
# memory each time, and the page faults of filling it cost more than reading the bytes:
# reading a row group at a time cost 0.75 us a document, 16384 rows 0.24.
PIECE_ROWS = 16_384
# Read buffer of the file stream: pre-buffering whole column chunks (pyarrow's default)
# or memory-mapping the file fills new memory too (0.70 and 0.31 us a document).
READ_BUFFER = 1 << 20


def _pieces(path: str, first: int, end: int, read: Sequence[str], feature_col: str):
    """Row groups ``first .. end-1`` of ``path`` as Arrow tables of at most
    :data:`PIECE_ROWS` rows of the ``read`` columns the file has."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER)
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
        raise TableError(f"cannot read pool file {path}: {exc}") from exc
    file_cols = [c for c in read if c in handle.schema_arrow.names]
    if feature_col not in file_cols:
        raise InputError(f"pool file {path} has no column {feature_col!r}")
    for batch in handle.iter_batches(PIECE_ROWS, row_groups=list(range(first, end)),
                                     columns=file_cols):
        yield pa.Table.from_batches([batch])


def scan_frame(spark, scan: DirectScan, feature_col: str, columns: Sequence[str], out_schema,
               make_task):
    """A DataFrame of ``out_schema`` made by the Python workers from the pool's files, one
    Spark task per :class:`ScanTask`.

    ``make_task()`` runs once per task in the worker and returns ``(on_piece, on_end)``:
    ``on_piece(table)`` yields the output record batches of one piece of a file (up to
    :data:`PIECE_ROWS` rows of its task's row groups: an Arrow table of ``columns`` and
    ``feature_col``, those the file has), ``on_end()`` any after the task's last piece.
    """
    tasks = [(t.path, t.first, t.end) for t in scan.tasks]
    present = set(scan.schema.names)
    read = [c for c in list(columns) + [feature_col] if c in present]

    def run(batches):
        on_piece, on_end = make_task()
        for batch in batches:
            for path, first, end in zip(*(batch.column(i).to_pylist() for i in range(3))):
                for table in _pieces(path, first, end, read, feature_col):
                    yield from on_piece(table)
        yield from on_end()

    # One task per partition: parallelize slices a list evenly, where a DataFrame's
    # repartition would shuffle.
    rdd = spark.sparkContext.parallelize(tasks, max(1, len(tasks)))
    return spark.createDataFrame(rdd, "path string, first int, `end` int").mapInArrow(run, out_schema)
