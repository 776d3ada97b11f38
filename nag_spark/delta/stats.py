"""Delta file statistics (``numRecords``, ``minValues``, ``maxValues``, ``nullCount``) from a
parquet footer.

Delta defines min/max for numbers, dates, timestamps and strings, and null counts per leaf
column; arrays and maps get none (Spark's Delta writer skips them too), so those columns are
left out rather than described wrongly. Values are taken over all row groups; a column
whose footer lacks statistics in any row group is left out (an absent stat only turns off
data skipping, a wrong one loses rows).
"""
from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pyarrow as pa

# Spark's Delta writer keeps 32-character string prefixes; a longer max cannot be
# truncated without becoming smaller than the true max, so it is omitted instead.
STRING_PREFIX = 32

_NO_STATS = object()


def _leaf_paths(schema: pa.Schema) -> dict[str, tuple[tuple[str, ...], pa.DataType]]:
    """Parquet column path (``a.b``) -> (Delta nesting path, Arrow type) for stat-able leaves."""
    out: dict[str, tuple[tuple[str, ...], pa.DataType]] = {}

    def visit(prefix: tuple[str, ...], field: pa.Field) -> None:
        path = prefix + (field.name,)
        if pa.types.is_struct(field.type):
            for child in field.type:
                visit(path, child)
        elif not (pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
                  or pa.types.is_map(field.type) or pa.types.is_fixed_size_list(field.type)):
            out[".".join(path)] = (path, field.type)

    for field in schema:
        visit((), field)
    return out


def _json_value(value: Any, arrow_type: pa.DataType, is_max: bool) -> Any:
    """A footer statistic as Delta writes it in JSON, or ``_NO_STATS``."""
    if value is None:
        return _NO_STATS
    if pa.types.is_boolean(arrow_type) or pa.types.is_binary(arrow_type) \
            or pa.types.is_large_binary(arrow_type):
        return _NO_STATS
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if len(value) > STRING_PREFIX:
            return _NO_STATS if is_max else value[:STRING_PREFIX]
        return value
    if pa.types.is_timestamp(arrow_type):
        if isinstance(value, int):  # some footers give raw integers
            value = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        # Delta stats have millisecond precision: round the max up so it stays an upper bound.
        micros = value.microsecond
        value = value.replace(microsecond=micros - micros % 1000)
        if is_max and micros % 1000:
            value += dt.timedelta(milliseconds=1)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if pa.types.is_date(arrow_type):
        return value.isoformat()
    if pa.types.is_decimal(arrow_type):
        return float(Decimal(value)) if not isinstance(value, float) else value
    if isinstance(value, float) and not math.isfinite(value):
        return _NO_STATS
    if isinstance(value, (int, float)):
        return value
    return _NO_STATS


def _set(tree: dict, path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        tree = tree.setdefault(name, {})
    tree[path[-1]] = value


def file_stats(metadata, schema: pa.Schema) -> dict:
    """Delta ``stats`` for one parquet file.

    Parameters
    ----------
    metadata : pyarrow.parquet.FileMetaData
        The file's footer.
    schema : pyarrow.Schema
        The file's Arrow schema (tells which columns are arrays, which are timestamps).

    Returns
    -------
    dict
        ``{"numRecords": n, "minValues": {...}, "maxValues": {...}, "nullCount": {...}}``.
    """
    leaves = _leaf_paths(schema)
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    skip_minmax: set[str] = set()
    skip_nulls: set[str] = set()
    for rg in range(metadata.num_row_groups):
        group = metadata.row_group(rg)
        for ci in range(group.num_columns):
            column = group.column(ci)
            name = column.path_in_schema
            if name not in leaves:
                continue
            st = column.statistics
            if st is None or group.num_rows == 0:
                if group.num_rows:
                    skip_minmax.add(name)
                    skip_nulls.add(name)
                continue
            if st.has_null_count:
                nulls[name] = nulls.get(name, 0) + st.null_count
            else:
                skip_nulls.add(name)
            if not st.has_min_max:
                # An all-null chunk has no min/max and does not widen the range.
                if not (st.has_null_count and st.null_count == group.num_rows):
                    skip_minmax.add(name)
                continue
            lo, hi = st.min, st.max
            if name not in mins or lo < mins[name]:
                mins[name] = lo
            if name not in maxs or hi > maxs[name]:
                maxs[name] = hi

    stats: dict[str, Any] = {"numRecords": metadata.num_rows, "minValues": {},
                             "maxValues": {}, "nullCount": {}}
    for name, (path, arrow_type) in leaves.items():
        if name not in skip_nulls and name in nulls:
            _set(stats["nullCount"], path, nulls[name])
        elif name not in skip_nulls and metadata.num_rows == 0:
            _set(stats["nullCount"], path, 0)
        if name in skip_minmax or name not in mins:
            continue
        lo = _json_value(mins[name], arrow_type, is_max=False)
        hi = _json_value(maxs[name], arrow_type, is_max=True)
        if lo is not _NO_STATS:
            _set(stats["minValues"], path, lo)
        if hi is not _NO_STATS:
            _set(stats["maxValues"], path, hi)
    return stats


def stats_json(metadata, schema: pa.Schema) -> str:
    """:func:`file_stats` serialised the way the ``add`` action carries it."""
    return json.dumps(file_stats(metadata, schema), separators=(",", ":"))
