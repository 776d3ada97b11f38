"""Reading and validating extraction input: every bad input gets a clear, named error."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from nag_spark.errors import InputError
from nag_spark.spark.inputs import read_documents


def _parquet(tmp_path, rows, name="docs.parquet"):
    path = tmp_path / name
    pd.DataFrame(rows).to_parquet(path, index=False)
    return str(path)


ROWS = [{"docid": "a", "doc": "hello world", "dataset": "x", "token_num": 2},
        {"docid": "b", "doc": "second doc", "dataset": "y", "token_num": 2}]


def test_web_parquet_and_limit(spark, tmp_path):
    docs = read_documents(spark, _parquet(tmp_path, ROWS))
    assert docs.kind == "parquet" and docs.rows == 2
    assert docs.df.columns == ["docid", "doc", "dataset", "token_num"]
    assert read_documents(spark, _parquet(tmp_path, ROWS), limit=1).rows == 1


def test_jsonl_and_final_format(spark, tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"meta": {"docid": f"d{i}", "dataset": "j"},
                                          "content_split": f"text {i}"}) for i in range(3)))
    docs = read_documents(spark, str(path), "final")
    assert docs.kind == "json" and docs.rows == 3
    got = docs.df.orderBy("docid").collect()
    assert [r["docid"] for r in got] == ["d0", "d1", "d2"] and got[0]["dataset"] == "j"
    assert got[0]["doc"] == "text 0"


def test_delta_input(spark, tmp_path):
    from nag_spark.delta import write_table

    write_table(spark.createDataFrame(pd.DataFrame(ROWS)), str(tmp_path / "t"))
    docs = read_documents(spark, str(tmp_path / "t"))
    assert docs.kind == "delta" and docs.version == 0 and docs.rows == 2


def test_missing_columns_are_named(spark, tmp_path):
    path = _parquet(tmp_path, [{"docid": "a", "text": "x"}])
    with pytest.raises(InputError, match=r"docs.parquet has no column 'doc' \(format web"):
        read_documents(spark, path)
    with pytest.raises(InputError, match=r"has no column 'meta.docid' \(format final"):
        read_documents(spark, path, "final")
    with pytest.raises(InputError, match="has no column 'url' to carry"):
        read_documents(spark, _parquet(tmp_path, ROWS, "ok.parquet"), carry=["url"])


def test_duplicate_and_null_docids(spark, tmp_path):
    path = _parquet(tmp_path, ROWS + [{"docid": "a", "doc": "again", "dataset": "x", "token_num": 1}])
    with pytest.raises(InputError, match=r"duplicate docids in column 'docid', e.g. 'a' \(2x\)"):
        read_documents(spark, path)
    path = _parquet(tmp_path, ROWS + [{"docid": None, "doc": "t", "dataset": "x", "token_num": 1}], "n.parquet")
    with pytest.raises(InputError, match="column 'docid' has 1 null values"):
        read_documents(spark, path)


def test_null_and_empty_documents_are_skipped_and_counted(spark, tmp_path):
    rows = ROWS + [{"docid": "c", "doc": None, "dataset": "x", "token_num": 0},
                   {"docid": "d", "doc": "   \n", "dataset": "x", "token_num": 0}]
    docs = read_documents(spark, _parquet(tmp_path, rows))
    assert docs.skipped_empty == 2 and docs.rows == 2
    assert sorted(r["docid"] for r in docs.df.collect()) == ["a", "b"]


def test_unreadable_and_missing_files(spark, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet at all")
    with pytest.raises(InputError, match=r"input file .*broken.parquet is not a readable parquet "
                                         r"file: its footer cannot be read \(.*magic bytes"):
        read_documents(spark, str(bad))
    with pytest.raises(InputError, match="nothing_here.parquet does not exist"):
        read_documents(spark, str(tmp_path / "nothing_here.parquet"))
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"docid": "a", "doc": "x"}\n{not json\n')
    with pytest.raises(InputError, match="bad.jsonl"):
        read_documents(spark, str(jl))
