"""File statistics from parquet footers, checked against values computed by hand."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from nag_spark.delta.stats import STRING_PREFIX, file_stats


def _stats(tmp_path, table: pa.Table, row_group_size: int = 2) -> dict:
    path = tmp_path / "f.parquet"
    pq.write_table(table, path, row_group_size=row_group_size)
    meta = pq.read_metadata(path)
    return file_stats(meta, meta.schema.to_arrow_schema())


def test_min_max_nulls_across_row_groups(tmp_path):
    utc = dt.timezone.utc
    table = pa.table({
        "n": pa.array([5, None, -3, 9, 1], pa.int64()),
        "s": pa.array(["b", "a", None, "z" * (STRING_PREFIX + 5), "c"]),
        "ts": pa.array([dt.datetime(2024, 1, 1, 0, 0, 0, 1500, tzinfo=utc)] * 4 + [None],
                       pa.timestamp("us", tz="UTC")),
        "d": pa.array([dt.date(2024, 5, i) for i in range(1, 6)]),
        "f": pa.array([0.5, float("nan"), 2.0, 1.0, 3.0]),
        "arr": pa.array([[1], [2, 3], None, [], [4]], pa.list_(pa.int16())),
        "flag": pa.array([True, False, True, None, True]),
        "st": pa.array([{"x": i} for i in range(5)], pa.struct([("x", pa.int32())])),
    })
    s = _stats(tmp_path, table)
    assert s["numRecords"] == 5
    assert s["minValues"]["n"] == -3 and s["maxValues"]["n"] == 9
    assert s["nullCount"]["n"] == 1 and s["nullCount"]["s"] == 1 and s["nullCount"]["ts"] == 1
    # A long string keeps a prefix as min; as max it is left out (a prefix would be too small).
    assert s["minValues"]["s"] == "a" and "s" not in s["maxValues"]
    # Milliseconds: the min is truncated, the max rounded up, so both remain bounds.
    assert s["minValues"]["ts"] == "2024-01-01T00:00:00.001Z"
    assert s["maxValues"]["ts"] == "2024-01-01T00:00:00.002Z"
    assert s["minValues"]["d"] == "2024-05-01" and s["maxValues"]["d"] == "2024-05-05"
    assert s["minValues"]["st"] == {"x": 0} and s["maxValues"]["st"] == {"x": 4}
    for column in ("arr", "flag"):
        assert column not in s["minValues"] and column not in s["maxValues"]
    assert "arr" not in s["nullCount"]


def test_all_null_and_empty(tmp_path):
    s = _stats(tmp_path, pa.table({"n": pa.array([None, None], pa.int64())}))
    assert s["nullCount"] == {"n": 2} and s["minValues"] == {} and s["maxValues"] == {}
    s = _stats(tmp_path, pa.table({"n": pa.array([], pa.int64())}))
    assert s["numRecords"] == 0
