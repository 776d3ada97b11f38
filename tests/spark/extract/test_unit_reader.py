"""Reading one work unit inside a task (spark/extract/unit_reader.py): the same columns
whatever the layout (web, final) or file kind (parquet, JSONL), carried columns kept as
they are, and invalid UTF-8 replaced and counted instead of crashing the worker."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from nag_spark.spark.extract.unit_reader import UnitColumns, read_unit
from nag_spark.spark.extract.units import plan_units


def _units(path, kind="parquet", unit_rows=4, **kw):
    units, _ = plan_units(str(path), kind, unit_rows=unit_rows, max_unit_rows=unit_rows, slots=1, **kw)
    return units


def _read_all(units, columns, skip_first=0):
    tables, bad = [], 0
    for i, u in enumerate(units):
        t, b = read_unit(u, columns, skip_first if i == 0 else 0)
        tables.append(t)
        bad += b
    return pa.concat_tables(tables), bad


def test_web_parquet_units_read_back_the_input_in_order(tmp_path):
    n = 10
    pq.write_table(pa.table({
        "docid": pa.array([f"d{i}" for i in range(n)]),
        "doc": [f"text number {i}" for i in range(n)],
        "dataset": ["a", "b"] * (n // 2),
        "token_num": pa.array(range(n), pa.int32()),
        "url": [f"http://x/{i}" for i in range(n)],
        "unused": list(range(n)),
    }), tmp_path / "in.parquet", row_group_size=6)
    units = _units(tmp_path / "in.parquet")
    assert [u.rows for u in units] == [4, 2, 4]
    cols = UnitColumns("web", has_dataset=True, has_token_num=True, carry=("url",))
    out, bad = _read_all(units, cols)
    assert out.schema.names == ["docid", "doc", "dataset", "token_num", "url"]
    assert out.column("docid").to_pylist() == [f"d{i}" for i in range(n)]
    assert out.column("token_num").type == pa.int64()
    assert out.column("token_num").to_pylist() == list(range(n))
    assert out.column("url").to_pylist()[7] == "http://x/7" and bad == 0
    # A resumed unit starts after its committed rows.
    resumed, _ = read_unit(units[0], cols, 3)
    assert resumed.column("docid").to_pylist() == ["d3"]


def test_final_layout_takes_docid_and_dataset_from_meta(tmp_path):
    meta = pa.array([{"docid": f"m{i}", "dataset": "wiki", "token_num": 10 + i} for i in range(5)])
    pq.write_table(pa.table({"meta": meta, "content_split": [f"body {i}" for i in range(5)],
                             "lang": ["en"] * 5}), tmp_path / "final.parquet")
    cols = UnitColumns("final", has_dataset=True, has_token_num=True, carry=("lang",))
    out, _ = _read_all(_units(tmp_path / "final.parquet", unit_rows=3), cols)
    assert out.column("docid").to_pylist() == [f"m{i}" for i in range(5)]
    assert out.column("doc").to_pylist()[4] == "body 4"
    assert out.column("dataset").to_pylist() == ["wiki"] * 5
    assert out.column("token_num").to_pylist() == [10, 11, 12, 13, 14]
    assert out.column("lang").to_pylist() == ["en"] * 5


def test_final_layout_with_a_top_level_dataset_column(tmp_path):
    # Spark's validation accepts `dataset` next to `meta` (inputs._select_format): the task
    # must read it too.
    meta = pa.array([{"docid": f"m{i}"} for i in range(3)])
    pq.write_table(pa.table({"meta": meta, "content_split": ["a", "b", "c"],
                             "dataset": ["web", "web", "news"]}), tmp_path / "final.parquet")
    cols = UnitColumns("final", has_dataset=True)
    out, _ = _read_all(_units(tmp_path / "final.parquet"), cols)
    assert out.column("dataset").to_pylist() == ["web", "web", "news"]


def test_jsonl_units_parse_with_the_inferred_schema(tmp_path):
    lines = [json.dumps({"doc": f"words {i} ünï", "docid": i, "extra": [1, 2], "dataset": "j"})
             for i in range(30)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # What Spark infers for this file (docid is a number: the reader casts it to string).
    schema = pa.schema([("dataset", pa.string()), ("doc", pa.string()), ("docid", pa.int64()),
                        ("extra", pa.list_(pa.int64()))])
    units, _ = plan_units(str(tmp_path / "a.jsonl"), "json", unit_rows=None, max_unit_rows=10,
                          slots=1, unit_bytes=200)
    assert len(units) > 3
    cols = UnitColumns("web", has_dataset=True, carry=("extra",), json_schema=schema)
    out, _ = _read_all(units, cols)
    assert out.column("docid").to_pylist() == [str(i) for i in range(30)]
    assert out.column("doc").to_pylist()[29] == "words 29 ünï"
    assert out.column("extra").to_pylist()[0] == [1, 2]


def test_invalid_utf8_text_is_replaced_and_counted(tmp_path):
    # A parquet string column can hold any bytes: write raw bytes typed as string.
    raw = pa.array([b"fine text", b"bad \xff\xfe bytes", None, b"cut \xe2\x82", b"also fine"],
                   pa.binary())
    pq.write_table(pa.table({"docid": ["a", "b", "c", "d", "e"], "doc": raw.view(pa.string())}),
                   tmp_path / "bad.parquet")
    out, bad = _read_all(_units(tmp_path / "bad.parquet", unit_rows=10), UnitColumns("web"))
    docs = out.column("doc").to_pylist()
    assert bad == 2
    assert docs == ["fine text", "bad \ufffd\ufffd bytes", None, "cut \ufffd", "also fine"]
    out.column("doc").validate(full=True)  # valid UTF-8 now


def test_jsonl_ranges_without_a_line_start_read_as_no_rows(tmp_path):
    # One record longer than a unit: the units after the first own no line. Final layout,
    # so the empty result still needs the nested `meta` column.
    long = json.dumps({"meta": {"docid": "long", "dataset": "j"}, "content_split": "x " * 200})
    short = json.dumps({"meta": {"docid": "short", "dataset": "j"}, "content_split": "y"})
    (tmp_path / "a.jsonl").write_text(long + "\n" + short + "\n", encoding="utf-8")
    schema = pa.schema([("content_split", pa.string()),
                        ("meta", pa.struct([("dataset", pa.string()), ("docid", pa.string())]))])
    units, _ = plan_units(str(tmp_path / "a.jsonl"), "json", unit_rows=None, max_unit_rows=10,
                          slots=1, unit_bytes=64)
    cols = UnitColumns("final", has_dataset=True, json_schema=schema)
    counts = [read_unit(u, cols)[0].num_rows for u in units]
    assert len(units) > 3 and counts[0] == 1 and sum(counts) == 2
    out, _ = _read_all(units, cols)
    assert out.column("docid").to_pylist() == ["long", "short"]
