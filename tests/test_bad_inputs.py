"""Issue 13, items 5 to 9: bad inputs and options get one clear line, early; nothing is lost.

Each test reproduces a case of the issue's probe: invalid UTF-8 text, non-numeric token
counts or quality values, unreadable input files, a zero that was silently replaced, an
empty docid, lineage refusals that named a side property, and the document counts a job
reports. Jobs run in this process on the suite's Spark session (``jobs/*.py`` ``main``, or
the library entry point inside the same ``run_job`` tail), with a tiny random model.
"""
from __future__ import annotations

import re

import pandas as pd
import pytest

from fault_fixtures import TableState, as_job, run_cli, tiny_model_dir, truncate, write_parquet_with_bad_utf8
from nag_spark.errors import InputError
from nag_spark.spark.extract import ExtractOptions, plan_extraction, run_extraction
from nag_spark.spark.inputs import read_documents


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("model"))


def _docs(path, n=6, **cols):
    frame = {"docid": [f"d{i}" for i in range(n)],
             "doc": [f"document number {i} about rivers and stones" for i in range(n)]}
    frame.update(cols)
    pd.DataFrame(frame).to_parquet(path, index=False)
    return str(path)


def _opts(src, out, model, **kw):
    return ExtractOptions(input=str(src), output=str(out), model=model, track=False,
                          max_length=16, dtype="float32", **kw)


def test_invalid_utf8_text_is_replaced_and_counted(spark, tmp_path, model):
    # Item 5: bad bytes used to crash a worker with UnicodeDecodeError and no docid.
    src = tmp_path / "docs.parquet"
    write_parquet_with_bad_utf8(src, ["ok", "bad1", "bad2"],
                                [b"plain text here", b"caf\xe9 au lait", b"\xff\xfe broken \xc3("])
    out = tmp_path / "feats"
    res = as_job(lambda: run_extraction(spark, _opts(src, out, model)))
    assert res.status == 0, res.stderr
    assert res.result.invalid_utf8 == 2 and res.result.docs_processed == 3
    from deltalake import DeltaTable

    assert sorted(DeltaTable(str(out)).to_pandas()["docid"]) == ["bad1", "bad2", "ok"]


def test_token_counts_and_quality_values_must_be_numbers(spark, tmp_path, model, mlflow_uri):
    # Item 6: strings in token_num (or a quality column) were an ANSI CAST_INVALID_INPUT
    # traceback, exit 1, deep in a worker.
    cases = [
        ({"token_num": ["12", "x", "3", "4", "5", "6"]}, r"column 'token_num' is string; token "
                                                        r"counts must be integers"),
        ({"token_num": [1.5, 2.0, 3.0, 4.0, 5.0, 6.0]}, r"column 'token_num' is double"),
        ({"token_num": [1, -2, 3, 4, 5, 6]}, r"column 'token_num' has 1 negative values "
                                             r"\(e.g. docid 'd1'\)"),
        ({"token_num": pd.array([1, None, 3, 4, 5, 6], dtype="Int64")},
         r"column 'token_num' has 1 null values \(e.g. docid 'd1'\)"),
    ]
    for i, (cols, message) in enumerate(cases):
        src = _docs(tmp_path / f"d{i}.parquet", **cols)
        out = tmp_path / f"o{i}"
        got = as_job(lambda: run_extraction(spark, _opts(src, out, model)))
        assert got.status == 2 and len(got.error_lines) == 1, got.stderr
        assert re.search(message, got.error_lines[0]), got.error_lines[0]
    # A quality column of text, in a pool written by a real extraction.
    pool = tmp_path / "pool"
    src = _docs(tmp_path / "q.parquet", 8, dataset=["web"] * 6 + ["hellaswag_train"] * 2,
                label=["good", "bad"] * 4)
    assert run_extraction(spark, _opts(src, pool, model, carry=("label",))).docs_processed == 8
    got = run_cli("rank", ["--target", "hellaswag", "--pool", str(pool), "--output",
                           str(tmp_path / "sel"), "--quality-col", "label"])
    assert got.status == 2 and got.error_lines == [
        f"error: pool table {pool}: quality column 'label' is string; --quality-col needs a "
        "numeric column"], got.stderr


def test_unreadable_files_are_named_with_their_cause(spark, tmp_path):
    # Item 7: the message was "An error occurred while calling o295.collectToPython".
    good = _docs(tmp_path / "good.parquet")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(open(good, "rb").read())
    truncate(cut, 200)
    text = tmp_path / "notes.parquet"
    text.write_text("just some text, not parquet\n")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _docs(mixed / "part-0.parquet")
    (mixed / "extra.jsonl").write_text('{"docid": "x", "doc": "y"}\n')
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text('{"docid": "a", "doc": "one"}\n{"docid": "b", "doc": "two"}\n'
                     '{"docid": "c", "doc": "three\n{"docid": "d", "doc": "four"}\n')
    cases = [
        (cut, rf"input file {cut} is not a readable parquet file: its footer cannot be read \(.+\)"),
        (text, rf"input file {text} is not a readable parquet file: its footer cannot be read "
               r"\(.*magic bytes.*\)"),
        (mixed, rf"input folder {mixed} is read as parquet but holds files that are not: extra.jsonl"),
        (jsonl, rf"input {jsonl}: malformed JSON record in file {jsonl}, line 3: "
                r"'\{\"docid\": \"c\", \"doc\": \"three'"),
    ]
    for path, message in cases:
        with pytest.raises(InputError, match=message):
            read_documents(spark, path)


def test_a_given_zero_is_refused_not_replaced(model):
    # Item 8: `opts.x or default` ran --batch-tokens 0 / --chunk-docs 0 with the defaults.
    conf = {"spark.nag.extract.batch_tokens": "512", "spark.nag.extract.chunk_docs": "9"}
    for field, option in (("batch_tokens", "--batch-tokens"), ("chunk_docs", "--chunk-docs")):
        with pytest.raises(InputError, match=rf"{option} must be a positive integer, got 0"):
            plan_extraction(ExtractOptions("d", "o", model=model, dtype="float32", track=False,
                                           **{field: 0}), conf)
    plan = plan_extraction(ExtractOptions("d", "o", model=model, dtype="float32", track=False), conf)
    assert (plan.batch_tokens, plan.chunk_docs) == (512, 9)   # absent: the conf's value


def test_empty_docids_are_refused(spark, tmp_path):
    # Item 9: a single empty-string docid was stored.
    for ids in (["a", "", "c"], ["a", "   ", "c"]):
        src = _docs(tmp_path / "e.parquet", 3)
        pd.DataFrame({"docid": ids, "doc": ["x y", "y z", "z w"]}).to_parquet(src, index=False)
        with pytest.raises(InputError, match=r"column 'docid' has 1 empty values"):
            read_documents(spark, src)


def test_lineage_refusals_name_the_problem(spark, tmp_path, model):
    # Item 9: "output is the input docs table" and "other neuron types" named a side
    # property ('nag.architecture' is absent...) instead of the problem.
    src = tmp_path / "docs_table"
    from nag_spark.delta import write_table

    write_table(spark.createDataFrame(pd.read_parquet(_docs(tmp_path / "d.parquet"))), src)
    before = TableState.of(src)
    got = as_job(lambda: run_extraction(spark, _opts(src, src, model)))
    assert got.status == 2 and re.match(r"error: --output .*docs_table is the input of --input",
                                        got.error_lines[0]), got.stderr
    out = tmp_path / "feats"
    docs = _docs(tmp_path / "d2.parquet")
    assert run_extraction(spark, _opts(docs, out, model, top_k=8)).docs_processed == 6
    state = TableState.of(out)
    got = as_job(lambda: run_extraction(spark, _opts(docs, out, model, top_k=8,
                                                     neuron_types="fwd_down")))
    assert got.status == 2 and re.match(
        rf"error: table {out} holds NAGs of neuron types 'fwd_up', but this run extracts "
        r"'fwd_down'", got.error_lines[0]), got.stderr
    other = tmp_path / "other_delta"
    write_table(spark.createDataFrame([("z",)], "docid string"), other)
    got = as_job(lambda: run_extraction(spark, _opts(docs, other, model)))
    assert got.status == 2 and "that nag-spark did not write (no property 'nag.kind')" in got.stderr
    assert TableState.of(out) == state and TableState.of(src) == before


def test_reported_counts_are_the_rows_inserted(spark, tmp_path, model, capsys):
    # Item 9: a job that inserted 20 rows reported "extracted 60 documents".
    from deltalake import DeltaTable

    src = _docs(tmp_path / "d.parquet", 20)
    out = tmp_path / "feats"
    argv = ["--input", src, "--output", str(out), "--model", model, "--chunk-docs", "4",
            "--max-length", "16", "--dtype", "float32", "--no-mlflow"]
    capsys.readouterr()
    assert run_cli("extract", argv).status == 0
    assert re.search(r"^extracted 20 documents \(0 already present\)", capsys.readouterr().out, re.M)
    assert len(DeltaTable(str(out)).to_pandas()) == 20
    assert run_cli("extract", argv).status == 0
    assert re.search(r"^extracted 0 documents \(20 already present\)", capsys.readouterr().out, re.M)
    assert len(DeltaTable(str(out)).to_pandas()) == 20
