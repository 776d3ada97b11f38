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

    def source_columns(self) -> list[str]:
        if self.fmt == "final":
            return ["meta", "content_split"] + [c for c in self.carry if c not in ("meta", "content_split")]
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


def _read_raw(unit: WorkUnit, columns: UnitColumns):
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    if unit.kind == "parquet":
        with _open(unit.uri) as fh:
            table = pq.ParquetFile(fh).read_row_group(unit.row_group, columns=columns.source_columns())
        return table.slice(unit.first_row, unit.rows)
    data = _json_lines(unit)
    if not data.strip():
        return pa.table({c: pa.array([], pa.string()) for c in columns.source_columns()})
    options = pj.ParseOptions(explicit_schema=columns.json_schema,
                              unexpected_field_behavior="ignore")
    return pj.read_json(io.BytesIO(data), parse_options=options).select(columns.source_columns())


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
