"""Reading one work unit's documents inside a Spark task (pyarrow, no Spark).

The driver validated the input once with Spark (schema, null and duplicate docids); a task
then reads only its own slice: one parquet row group (sliced), or the lines of a JSONL byte
range. The result always has ``docid`` and ``doc`` (strings), ``dataset`` and ``token_num``
when the input has them, and the carried columns, whatever the input layout (``web`` or
``final``).

Text that is not valid UTF-8 (a parquet string column can hold any bytes) is decoded with
the bad bytes replaced by U+FFFD and counted, so one bad document neither crashes a worker
nor silently disappears.
"""
from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass

from .units import WorkUnit


@dataclass(frozen=True)
class UnitColumns:
    """Which input columns a unit read returns, by layout."""

    fmt: str                       # "web" or "final"
    has_dataset: bool = False
    has_token_num: bool = False
    carry: tuple[str, ...] = ()
    json_schema: object = None     # pyarrow.Schema of the JSONL input, as Spark inferred it

    def source_columns(self, available=()) -> list[str]:
        """The columns to read; ``available``: the file's top-level names (``final``
        takes ``dataset``/``token_num`` from there when ``meta`` lacks them, as Spark does)."""
        if self.fmt == "final":
            cols = ["meta", "content_split"] + [c for c in ("dataset", "token_num")
                                                if getattr(self, f"has_{c}") and c in available]
            return cols + [c for c in self.carry if c not in cols]
        cols = ["docid", "doc"] + (["dataset"] if self.has_dataset else [])
        cols += ["token_num"] if self.has_token_num else []
        return cols + [c for c in self.carry if c not in cols]


def _open(uri: str):
    if "://" in uri and not uri.startswith("file://"):
        from pyarrow import fs as pafs

        filesystem, path = pafs.FileSystem.from_uri(uri)
        return filesystem.open_input_file(path)
    return open(uri[len("file://"):] if uri.startswith("file://") else uri, "rb")


def _json_lines(unit: WorkUnit) -> bytes:
    """The lines whose first byte lies in the unit's byte range (Hadoop's split rule)."""
    if unit.uri.endswith(".gz"):
        with _open(unit.uri) as raw, gzip.open(raw) as fh:
            return fh.read()
    with _open(unit.uri) as raw:
        fh = io.BufferedReader(raw) if not hasattr(raw, "readline") else raw
        pos = max(0, unit.start - 1)
        fh.seek(pos)
        if unit.start > 0:
            pos += len(fh.readline())  # the line in progress at start belongs to the unit before
        out = []
        end = unit.end if unit.end >= 0 else float("inf")
        while pos < end:
            line = fh.readline()
            if not line:
                break
            pos += len(line)
            out.append(line)
    return b"".join(out)


def count_json_rows(unit: WorkUnit) -> int:
    """Non-blank lines of a JSONL unit (for ``--limit``)."""
    return sum(1 for line in _json_lines(unit).splitlines() if line.strip())


# One decoded row group per Python worker. A unit is a slice of a row group (a 128 MB
# group of web text holds ~100k documents, a unit at most --chunk-docs rows) and a worker
# often runs several slices of one group: decoding the whole group for each slice made
# reading cost rows-per-group / rows-per-unit times too much (64x on a 100k-document
# file). Only local files are kept (keyed on size and mtime: a rewritten file is read
# again), only groups up to GROUP_CACHE_BYTES uncompressed, and the group is dropped once
# its last slice has been read; other groups are streamed up to the end of the slice.
GROUP_CACHE_BYTES = 512 << 20
_GROUP_CACHE: dict = {}


def _parquet_slice(unit: WorkUnit, columns: UnitColumns, pq):
    path = local_path(unit.uri)
    stamp = None
    if path is not None:
        st = os.stat(path)
        stamp = (st.st_size, st.st_mtime_ns)
    key = (unit.uri, stamp, unit.row_group, columns)
    table = _GROUP_CACHE.get(key)
    if table is None:
        _GROUP_CACHE.clear()
        with _open(unit.uri) as fh:
            file = pq.ParquetFile(fh)
            names = columns.source_columns(file.schema_arrow.names)
            size = file.metadata.row_group(unit.row_group).total_byte_size
            if stamp is None or size > GROUP_CACHE_BYTES:
                return _stream_slice(file, unit, names)
            table = file.read_row_group(unit.row_group, columns=names)
        _GROUP_CACHE[key] = table
    if unit.first_row + (unit.rows if unit.rows is not None else table.num_rows) >= table.num_rows:
        _GROUP_CACHE.pop(key, None)  # the group's last slice: nothing left to reuse
    return table.slice(unit.first_row, unit.rows)


def _stream_slice(file, unit: WorkUnit, names: list[str]):
    """The unit's rows of a row group, decoding batches only up to the slice's end."""
    import pyarrow as pa

    end = unit.first_row + unit.rows if unit.rows is not None else None
    batches, seen, first = [], 0, None
    for batch in file.iter_batches(batch_size=8192, row_groups=[unit.row_group], columns=names,
                                   use_threads=False):
        if seen + batch.num_rows > unit.first_row:
            first = seen if first is None else first
            batches.append(batch)
        seen += batch.num_rows
        if end is not None and seen >= end:
            break
    table = pa.Table.from_batches(batches) if batches else file.schema_arrow.empty_table().select(names)
    return table.slice(unit.first_row - (first or 0), unit.rows)


def _read_raw(unit: WorkUnit, columns: UnitColumns):
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    if unit.kind == "parquet":
        return _parquet_slice(unit, columns, pq)
    data = _json_lines(unit)
    names = columns.json_schema.names if columns.json_schema is not None else ()
    if not data.strip():
        # A range where no line starts: no rows, but the input's column types (final's
        # nested `meta` included), so the caller reads it like any other unit.
        if columns.json_schema is not None:
            return columns.json_schema.empty_table().select(columns.source_columns(names))
        return pa.table({c: pa.array([], pa.string()) for c in columns.source_columns()})
    options = pj.ParseOptions(explicit_schema=columns.json_schema,
                              unexpected_field_behavior="ignore")
    return pj.read_json(io.BytesIO(data), parse_options=options).select(columns.source_columns(names))


def _strings(array, counter: list[int]):
    """``array`` as valid UTF-8 strings; invalid byte sequences replaced and counted."""
    import pyarrow as pa

    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        try:
            array.validate(full=True)
            return array.cast(pa.string())
        except pa.ArrowInvalid:
            pass
        raw = array.cast(pa.binary()).to_pylist()
        fixed = []
        for value in raw:
            if value is None:
                fixed.append(None)
                continue
            text = value.decode("utf-8", errors="replace")
            counter[0] += text != value.decode("utf-8", errors="ignore")
            fixed.append(text)
        return pa.array(fixed, pa.string())
    return array.cast(pa.string())


def read_unit(unit: WorkUnit, columns: UnitColumns, skip_rows: int = 0):
    """The unit's documents after its first ``skip_rows`` rows (those already committed).

    Returns
    -------
    tuple
        ``(pyarrow.Table, invalid_utf8)``: ``docid``, ``doc`` [, ``dataset``] [, ``token_num``]
        [, carried columns]; how many texts had invalid UTF-8 replaced.
    """
    import pyarrow as pa

    table = _read_raw(unit, columns)
    if unit.limit is not None:
        table = table.slice(0, unit.limit)
    table = table.slice(skip_rows)
    bad = [0]
    if columns.fmt == "final":
        meta = table.column("meta").combine_chunks()
        cols = {"docid": meta.field("docid"), "doc": table.column("content_split")}
        for c in ("dataset", "token_num"):
            if getattr(columns, f"has_{c}"):
                cols[c] = meta.field(c) if c in [f.name for f in meta.type] else table.column(c)
    else:
        cols = {c: table.column(c) for c in ("docid", "doc", "dataset", "token_num")
                if c in table.column_names}
    out = {"docid": _strings(cols["docid"], [0]), "doc": _strings(cols["doc"], bad)}
    if columns.has_dataset:
        out["dataset"] = _strings(cols["dataset"], [0])
    if columns.has_token_num:
        out["token_num"] = cols["token_num"].cast(pa.int64())
    for c in columns.carry:
        if c not in out:
            out[c] = table.column(c)
    return pa.table(out), bad[0]


def local_path(uri: str) -> str | None:
    """The plain path of a local ``uri`` (None for remote stores)."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return None if "://" in uri else os.path.abspath(uri)
