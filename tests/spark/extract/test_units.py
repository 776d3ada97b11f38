"""Work units (spark/extract/units.py): stable identities, the --limit cut, JSONL byte
ranges that own every line exactly once, and clear errors for unreadable inputs.

Real files only (pyarrow parquet, JSONL, gzip); no Spark: units are planned from file
metadata on the driver.
"""
from __future__ import annotations

import gzip
import json
import os
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nag_spark.errors import InputError
from nag_spark.spark.extract.unit_reader import _json_lines, count_json_rows
from nag_spark.spark.extract.units import (apply_limit, input_rows, json_units, list_input_files,
                                           plan_units, rows_done, txn_version)


def _parquet(path, n, start=0, row_group_size=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"docid": [f"d{i}" for i in range(start, start + n)],
                             "doc": [f"text {i}" for i in range(start, start + n)]}),
                   str(path), row_group_size=row_group_size)


def _rows_of(units):
    """The (file, row) pairs the units cover, in unit order."""
    out = []
    for u in units:
        n = u.wanted_rows
        out += [(u.uri, u.row_group, u.first_row + i) for i in range(n)]
    return out


def test_parquet_units_are_stable_and_cover_every_row_once(tmp_path):
    _parquet(tmp_path / "in" / "a.parquet", 250, row_group_size=100)   # groups 100, 100, 50
    _parquet(tmp_path / "in" / "sub" / "b.parquet", 30, start=250)
    first, rows = plan_units(str(tmp_path / "in"), "parquet", unit_rows=40, max_unit_rows=1000, slots=2)
    again, _ = plan_units(str(tmp_path / "in"), "parquet", unit_rows=40, max_unit_rows=1000, slots=2)
    assert rows == 40
    assert [u.unit_id for u in first] == [u.unit_id for u in again]
    assert len({u.unit_id for u in first}) == len(first)
    # Slices never cross a row group: 100 -> 40+40+20, 50 -> 40+10, then b's 30.
    assert [u.rows for u in first] == [40, 40, 20, 40, 40, 20, 40, 10, 30]
    covered = _rows_of(first)
    assert len(covered) == len(set(covered)) == 280
    assert input_rows(first) == 280
    # The same unit planned from another working directory (relative input path) keeps its id:
    # ids hash the path inside the input, not the absolute path.
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        rel, _ = plan_units("in", "parquet", unit_rows=40, max_unit_rows=1000, slots=2)
    finally:
        os.chdir(cwd)
    assert [u.unit_id for u in rel] == [u.unit_id for u in first]
    assert all(u.app_id == "nag-extract:" + u.unit_id for u in first)


def test_new_table_unit_size_follows_the_input_and_the_cap(tmp_path):
    _parquet(tmp_path / "a.parquet", 1000)
    _, rows = plan_units(str(tmp_path / "a.parquet"), "parquet", unit_rows=None, max_unit_rows=20000, slots=2)
    assert rows == 64          # 1000 / (8 x 2) = 63 rows, but never under 64 (each unit is a commit)
    _, rows = plan_units(str(tmp_path / "a.parquet"), "parquet", unit_rows=None, max_unit_rows=50, slots=2)
    assert rows == 50          # --chunk-docs caps it


def test_limit_cuts_the_last_unit_and_keeps_ids(tmp_path):
    _parquet(tmp_path / "a.parquet", 100)
    full, _ = plan_units(str(tmp_path / "a.parquet"), "parquet", unit_rows=30, max_unit_rows=30, slots=1)
    cut, _ = plan_units(str(tmp_path / "a.parquet"), "parquet", unit_rows=30, max_unit_rows=30,
                        slots=1, limit=45)
    assert [(u.rows, u.limit, u.wanted_rows) for u in cut] == [(30, None, 30), (30, 15, 15)]
    # A cut unit is the same unit (same id, same commits) as without --limit.
    assert [u.unit_id for u in cut] == [u.unit_id for u in full[:2]]
    assert input_rows(cut) == 45
    assert apply_limit(full, 200, None) == full


def test_txn_versions_only_grow_from_partial_to_complete():
    assert rows_done(txn_version(15, False)) == (15, False)
    assert rows_done(txn_version(30, True)) == (30, True)
    assert txn_version(15, False) < txn_version(15, True) < txn_version(30, False)


def test_an_appended_input_file_adds_only_new_units(tmp_path):
    _parquet(tmp_path / "in" / "part-0.parquet", 90)
    before, _ = plan_units(str(tmp_path / "in"), "parquet", unit_rows=40, max_unit_rows=40, slots=1)
    _parquet(tmp_path / "in" / "part-1.parquet", 50, start=90)
    after, _ = plan_units(str(tmp_path / "in"), "parquet", unit_rows=40, max_unit_rows=40, slots=1)
    old = {u.unit_id for u in before}
    new = [u for u in after if u.unit_id not in old]
    assert old <= {u.unit_id for u in after}
    assert {os.path.basename(u.uri) for u in new} == {"part-1.parquet"}
    assert sum(u.rows for u in new) == 50
    # Hidden and underscore files (Spark's _SUCCESS, .crc) are no input.
    (tmp_path / "in" / "_SUCCESS").write_text("")
    (tmp_path / "in" / ".part-0.parquet.crc").write_text("")
    assert [f[1] for f in list_input_files(str(tmp_path / "in"), "parquet")] == \
        ["part-0.parquet", "part-1.parquet"]


def test_a_truncated_parquet_footer_is_an_input_error_naming_the_file(tmp_path):
    _parquet(tmp_path / "in" / "good.parquet", 10)
    _parquet(tmp_path / "in" / "bad.parquet", 10)
    data = (tmp_path / "in" / "bad.parquet").read_bytes()
    (tmp_path / "in" / "bad.parquet").write_bytes(data[:-20])
    with pytest.raises(InputError, match=r"parquet footer of input file .*bad\.parquet"):
        plan_units(str(tmp_path / "in"), "parquet", unit_rows=5, max_unit_rows=5, slots=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no data file"):
        plan_units(str(tmp_path / "empty"), "parquet", unit_rows=5, max_unit_rows=5, slots=1)


# ----------------------------------------------------------------- JSONL byte ranges

def _lines_of_units(path: str, unit_bytes: int) -> tuple[list, bytes]:
    files = list_input_files(path, "json")
    units = json_units(files, unit_bytes)
    return units, b"".join(_json_lines(u) for u in units)


line_text = st.text(st.characters(exclude_characters="\n", exclude_categories=("Cs",)),
                    max_size=30)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(line_text, max_size=25), final_newline=st.booleans(),
       unit_bytes=st.integers(1, 400))
def test_jsonl_byte_ranges_own_every_line_exactly_once(lines, final_newline, unit_bytes):
    body = "\n".join(lines) + ("\n" if final_newline and lines else "")
    data = body.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "docs.jsonl")
        with open(path, "wb") as fh:
            fh.write(data)
        units, joined = _lines_of_units(path, unit_bytes)
        # Lines owned by consecutive units, concatenated, are the file: none lost, none twice,
        # none split (multi-byte characters included).
        assert joined == data
        if len(data) > unit_bytes:
            assert len(units) == -(-len(data) // unit_bytes)
            assert units[0].start == 0 and units[-1].end == len(data)
            assert all(a.end == b.start for a, b in zip(units, units[1:]))
        assert len({u.unit_id for u in units}) == len(units)


def test_jsonl_units_count_non_blank_lines_for_limit(tmp_path):
    records = [json.dumps({"docid": f"d{i}", "doc": "é" * (i % 7) + " words"}) for i in range(40)]
    text = "\n".join(records[:20]) + "\n\n  \n" + "\n".join(records[20:]) + "\n"
    (tmp_path / "a.jsonl").write_text(text, encoding="utf-8")
    units = json_units(list_input_files(str(tmp_path / "a.jsonl"), "json"), 100)
    assert len(units) > 5
    assert sum(count_json_rows(u) for u in units) == 40
    cut = apply_limit(units, 7, count_json_rows)
    assert sum(u.wanted_rows for u in cut) == 7
    first = apply_limit(units, 1, count_json_rows)
    assert len(first) == 1 and first[0].rows > 1 and first[0].limit == 1


def test_gzip_jsonl_is_one_whole_file_unit(tmp_path):
    records = "".join(json.dumps({"docid": f"d{i}", "doc": "x " * i}) + "\n" for i in range(300))
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(records)
    (tmp_path / "b.jsonl").write_text(records)
    units, joined = _lines_of_units(str(tmp_path), 64)
    gz = [u for u in units if u.uri.endswith(".gz")]
    assert len(gz) == 1 and (gz[0].start, gz[0].end) == (0, -1)   # gzip cannot be split
    assert len(units) > 2                                        # the plain file is split
    assert _json_lines(gz[0]) == records.encode()
    assert joined == records.encode() * 2


def test_two_inputs_with_one_file_name_and_size_are_different_units(tmp_path):
    # docids d00..d29 and e00..e29: same name, same row count, same size, other documents.
    _parquet(tmp_path / "a" / "docs.parquet", 30)
    (tmp_path / "b").mkdir()
    pq.write_table(pa.table({"docid": [f"e{i}" for i in range(30)],
                             "doc": [f"text {i}" for i in range(30)]}), tmp_path / "b" / "docs.parquet")
    assert os.path.getsize(tmp_path / "a" / "docs.parquet") == os.path.getsize(tmp_path / "b" / "docs.parquet")
    a, _ = plan_units(str(tmp_path / "a"), "parquet", unit_rows=10, max_unit_rows=10, slots=1)
    b, _ = plan_units(str(tmp_path / "b"), "parquet", unit_rows=10, max_unit_rows=10, slots=1)
    assert not {u.unit_id for u in a} & {u.unit_id for u in b}
    # A byte-identical copy is the same input: same units.
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "docs.parquet").write_bytes((tmp_path / "a" / "docs.parquet").read_bytes())
    c, _ = plan_units(str(tmp_path / "c"), "parquet", unit_rows=10, max_unit_rows=10, slots=1)
    assert [u.unit_id for u in c] == [u.unit_id for u in a]


def test_a_delta_input_is_planned_from_its_log(tmp_path):
    """Regression: planning a Delta input read the add actions with a method they lack."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from nag_spark.spark.extract.units import plan_units as plan

    write_deltalake(str(tmp_path / "docs"), pa.table({"docid": ["a", "b", "c"], "doc": ["x", "y", "z"]}))
    units, _ = plan(str(tmp_path / "docs"), "delta", unit_rows=None, max_unit_rows=100, slots=2)
    assert sum(u.rows for u in units) == 3 and all(u.kind == "parquet" for u in units)
