"""Where a run starts (spark/extract/table_state.py), end to end with the tiny model on
the suite's Spark session: a re-run processes exactly what is missing — new input files,
the rest of a unit a ``--limit`` run cut short, nothing at all when all is done — and rows
another extraction already wrote are skipped, not written twice."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from deltalake import DeltaTable

sys.path.insert(0, str(Path(__file__).parent))
from tiny_model import (assert_no_leftovers, assert_readable_at_every_version,  # noqa: E402
                        tiny_model, write_docs)  # noqa: F401

from nag_spark.spark.extract import ExtractOptions, run_extraction  # noqa: E402
from nag_spark.spark.extract.units import plan_units  # noqa: E402


def _opts(tiny_model, inp, out, **kw):
    base = dict(model=tiny_model, dtype="float32", top_k=4, max_length=32, chunk_docs=40,
                track=False, progress_seconds=3600.0)
    base.update(kw)
    return ExtractOptions(str(inp), str(out), **base)


def _table(out):
    df = DeltaTable(str(out)).to_pandas()
    assert df["docid"].is_unique, "duplicate docid"
    return df


def _file_stamps(out):
    return {os.path.basename(u): os.stat(u).st_mtime_ns for u in DeltaTable(str(out)).file_uris()}


def test_appended_input_files_are_the_only_work_of_a_rerun(spark, tiny_model, tmp_path, mlflow_uri):
    import mlflow

    inp, out = tmp_path / "in", tmp_path / "feats"
    first = write_docs(inp / "part-0.parquet", [f"a{i:03d}" for i in range(90)])
    res = run_extraction(spark, _opts(tiny_model, inp, out))
    assert res.docs_processed == 90 and res.docs_already_present == 0
    stamps = _file_stamps(out)
    again = run_extraction(spark, _opts(tiny_model, inp, out))
    assert (again.docs_processed, again.units, again.version) == (0, 0, res.version)
    assert_no_leftovers(str(out))                     # not even an empty staging folder

    added = write_docs(inp / "part-1.parquet", [f"b{i:03d}" for i in range(50)], seed=1)
    new_units = [u for u in plan_units(str(inp), "parquet", unit_rows=40, max_unit_rows=40,
                                       slots=2)[0] if u.uri.endswith("part-1.parquet")]
    res2 = run_extraction(spark, _opts(tiny_model, inp, out, track=True, experiment="h10-append"))
    assert res2.docs_processed == 50 and res2.docs_already_present == 90
    assert res2.units == len(new_units) == 2
    df = _table(out)
    assert sorted(df["docid"]) == sorted(first) + sorted(added)
    # The first run's files are untouched (same files, not rewritten).
    now = _file_stamps(out)
    assert {k: now[k] for k in stamps} == stamps and len(now) == len(stamps) + 2
    metrics = mlflow.get_run(res2.run_id).data.metrics
    assert metrics["docs_processed"] == 50 and metrics["docs_already_present"] == 90
    assert metrics["units"] == 2 and 0 < metrics["busy_share"] <= 1
    assert_readable_at_every_version(str(out))
    assert_no_leftovers(str(out))


def test_a_limit_run_is_continued_inside_its_cut_unit(spark, tiny_model, tmp_path):
    inp, out = tmp_path / "docs.parquet", tmp_path / "feats"
    docs = write_docs(inp, [f"d{i:03d}" for i in range(100)])
    units, _ = plan_units(str(inp), "parquet", unit_rows=40, max_unit_rows=40, slots=2)
    cut = run_extraction(spark, _opts(tiny_model, inp, out, limit=50))
    assert cut.docs_processed == 50
    dt = DeltaTable(str(out))
    # Unit 0 complete (2*40+1); unit 1 holds its first 10 rows, not complete (2*10).
    assert [dt.transaction_version(u.app_id) for u in units] == [81, 20, None]
    more = run_extraction(spark, _opts(tiny_model, inp, out, limit=75))
    assert (more.docs_processed, more.docs_already_present) == (25, 50)
    rest = run_extraction(spark, _opts(tiny_model, inp, out))
    assert (rest.docs_processed, rest.docs_already_present) == (25, 75)
    dt = DeltaTable(str(out))
    assert [dt.transaction_version(u.app_id) for u in units] == [81, 81, 41]
    assert sorted(_table(out)["docid"]) == sorted(docs)
    assert_readable_at_every_version(str(out))
    assert_no_leftovers(str(out))


def test_rows_written_by_another_extraction_are_skipped(spark, tiny_model, tmp_path):
    # The same documents under another input path (other units): found by one semi-join.
    out = tmp_path / "feats"
    first = write_docs(tmp_path / "one" / "docs.parquet", [f"d{i:03d}" for i in range(60)])
    run_extraction(spark, _opts(tiny_model, tmp_path / "one", out))
    # The second input's first unit (d020-d059) is all present: a segment with nothing to
    # tokenize (no token_num column, so the worker counts tokens itself).
    ids = [f"d{i:03d}" for i in range(20, 100)]
    second = write_docs(tmp_path / "two" / "docs.parquet", ids, seed=0)
    res = run_extraction(spark, _opts(tiny_model, tmp_path / "two", out))
    assert res.docs_processed == 40 and res.docs_already_present == 40
    df = _table(out)
    assert sorted(df["docid"]) == sorted(set(first) | set(second))
    assert_readable_at_every_version(str(out))
    assert_no_leftovers(str(out))


def test_empty_texts_are_counted_not_stored_and_bad_utf8_is_replaced(spark, tiny_model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    inp, out = tmp_path / "docs.parquet", tmp_path / "feats"
    raw = pa.array([b"river stone", None, b" \n\t ", b"harbor \xff lantern"], pa.binary())
    pq.write_table(pa.table({"docid": ["a", "b", "c", "d"], "doc": raw.view(pa.string())}), inp)
    res = run_extraction(spark, _opts(tiny_model, inp, out))
    assert (res.docs_processed, res.docs_skipped_empty, res.invalid_utf8) == (2, 2, 1)
    assert sorted(_table(out)["docid"]) == ["a", "d"]


def test_an_input_whose_columns_differ_from_the_table_is_refused_before_any_work(
        spark, tiny_model, tmp_path):
    # Found by the property suite: rows without the table's 'dataset' column (or with one
    # it lacks) failed inside a worker's Arrow cast, with a traceback and no names.
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pytest

    from nag_spark.errors import InputError

    out = tmp_path / "feats"
    write_docs(tmp_path / "one" / "docs.parquet", [f"d{i:03d}" for i in range(20)])
    run_extraction(spark, _opts(tiny_model, tmp_path / "one", out))
    version = DeltaTable(str(out)).version()
    (tmp_path / "two").mkdir()
    pq.write_table(pa.table({"docid": ["x1", "x2"], "doc": ["some text here", "more text"]}),
                   str(tmp_path / "two" / "docs.parquet"))
    with pytest.raises(InputError, match=r"'dataset', which the input lacks") as err:
        run_extraction(spark, _opts(tiny_model, tmp_path / "two", out))
    assert str(out) in str(err.value)
    assert DeltaTable(str(out)).version() == version and len(_table(out)) == 20
