"""Property-based (hypothesis): generated inputs and options against extraction and ranking.

Every run must end one of two ways:

- success, with a table that satisfies its contract (features: each kept docid once, the
  NAG shape and range, the lineage; selection: the sequential definition's rows exactly,
  properties of this run) and that DuckDB reads like deltalake;
- exit status 2 with exactly one ``error:`` line naming the column, file or option, and any
  table that was there unchanged (version, rows, properties); no table where none was.

Anything else (a traceback, a late error that created a table, a silent duplicate) fails
and hypothesis shrinks it to the smallest input that shows it. The jobs run in this
process on the suite's Spark session, with a tiny random model; examples are derandomized
so a run in CI is reproducible, and few (``NAG_PROPERTY_EXAMPLES`` raises the count).
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fault_fixtures import (TINY_FWD_UP, TINY_LAYERS, TableState, as_job, tiny_model_dir,
                            write_parquet_with_bad_utf8)

from nag_spark.tables.nag_codec import index_rows  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "spark" / "rank"))
from rank_fixtures import N, synthetic_pool  # noqa: E402

EXAMPLES = int(os.environ.get("NAG_PROPERTY_EXAMPLES", "10"))
SETTINGS = dict(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# What a refusal must name: a column, an option, a file or table, or the model.
NAMED = re.compile(r"column '|'docid'|'token_num'|'doc'|--[a-z][a-z-]+|input |table |model|"
                   r"target |neuron type")

# ---------------------------------------------------------------- extraction

def _mostly(good, *bad):
    """``good`` most of the time, else one of ``bad``: a run fails on one thing at a time."""
    return st.sampled_from([good] * (3 * max(1, len(bad))) + list(bad))



ODD_TEXT = st.one_of(
    st.none(), st.just(""), st.just(" \n\t "), st.text(max_size=30),
    st.text(alphabet="abcdefgh ", min_size=1, max_size=12),
    st.just("x" * 2000), st.just("日本語のテキスト、スペースなし"), st.just("a\x00b\x1fc"),
    st.just("🙂" * 40), st.binary(min_size=1, max_size=12))
DOCIDS = st.one_of(st.text(max_size=6), st.none(), st.sampled_from(["a", "b", "", " "]),
                   st.integers(-3, 10 ** 12))
TOKENS = st.one_of(st.integers(0, 500), st.none(), st.integers(-5, -1), st.just("12"),
                   st.just("abc"), st.just(3.5))


@st.composite
def documents(draw):
    n = draw(st.integers(1, 7))
    # Mostly usable ids, so that runs also get to succeed; else odd ones, or one twice.
    how = draw(_mostly("clean", "odd", "twice"))
    ids = [f"doc{i}" for i in range(n)]
    if how == "odd":
        ids = draw(st.lists(DOCIDS, min_size=n, max_size=n))
    elif how == "twice":
        ids = ids + [ids[-1]]
        n += 1
    kind = draw(st.sampled_from(["int", "int", "int", "absent", "absent", "mixed"]))
    tokens = None
    if kind != "absent":
        tokens = [draw(st.integers(0, 500)) if kind == "int" else draw(TOKENS) for _ in range(n)]
    return {"ids": ids, "docs": draw(st.lists(ODD_TEXT, min_size=n, max_size=n)),
            "tokens": tokens, "dataset": draw(st.booleans()),
            "fmt": draw(st.sampled_from(["parquet", "parquet", "jsonl"]))}


EXTRACT_OPTIONS = st.fixed_dictionaries({
    "top_k": _mostly(4, 1, 0, 33), "max_length": _mostly(16, 1, 0),
    "batch_tokens": _mostly(None, 64, 0), "chunk_docs": _mostly(None, 3, 0),
    "limit": _mostly(None, 3, 0), "existing": st.booleans()})


def _column(values, kinds=(str, int, float, bytes)):
    import pyarrow as pa

    present = {type(v) for v in values if v is not None}
    if present <= {int}:
        return pa.array(values, pa.int64())
    if present <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def write_input(spec, folder: Path) -> str:
    """The generated documents as a parquet or JSONL file (invalid UTF-8: parquet only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = len(spec["ids"])
    if spec["fmt"] == "jsonl":
        path = folder / "docs.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(rows):
                rec = {"docid": spec["ids"][i], "doc": spec["docs"][i]}
                if isinstance(rec["doc"], bytes):
                    rec["doc"] = rec["doc"].decode("utf-8", "replace")
                if spec["tokens"] is not None:
                    rec["token_num"] = spec["tokens"][i]
                if spec["dataset"]:
                    rec["dataset"] = f"ds{i % 2}"
                fh.write(json.dumps(rec) + "\n")
        return str(path)
    path = folder / "docs.parquet"
    docs = spec["docs"]
    if any(isinstance(d, bytes) for d in docs):
        raw = [d if isinstance(d, (bytes, type(None))) else d.encode("utf-8", "surrogatepass")
               for d in docs]
        write_parquet_with_bad_utf8(path, [str(i) for i in range(rows)], raw)
        table = pq.read_table(path)
        table = table.set_column(0, "docid", _column(spec["ids"]))
    else:
        table = pa.table({"docid": _column(spec["ids"]), "doc": pa.array(docs, pa.string())})
    if spec["tokens"] is not None:
        table = table.append_column("token_num", _column(spec["tokens"]))
    if spec["dataset"]:
        table = table.append_column("dataset", pa.array([f"ds{i % 2}" for i in range(rows)]))
    pq.write_table(table, str(path))
    return str(path)


def _expected(spec, limit) -> tuple[set, int]:
    """Docids a successful run must store, and how many of their texts are invalid UTF-8."""
    n = len(spec["ids"]) if limit is None else min(limit, len(spec["ids"]))
    keep, bad = set(), 0
    for docid, doc in list(zip(spec["ids"], spec["docs"]))[:n]:
        if isinstance(doc, bytes):
            try:
                doc.decode("utf-8")
            except UnicodeDecodeError:
                bad += spec["fmt"] == "parquet"
            doc = doc.decode("utf-8", "replace")
        if doc is not None and doc.strip():
            keep.add(str(docid))
    return keep, bad


@pytest.fixture(scope="module")
def base_features(spark, tmp_path_factory):
    """A features table made once: examples with ``existing`` start from a copy of it."""
    import pandas as pd

    from nag_spark.spark.extract import ExtractOptions, run_extraction

    root = tmp_path_factory.mktemp("property-base")
    model = tiny_model_dir(root)
    pd.DataFrame({"docid": ["doc0", "base1"], "doc": ["a first text", "another text"]}).to_parquet(
        root / "base.parquet", index=False)
    run_extraction(spark, ExtractOptions(str(root / "base.parquet"), str(root / "table"), model=model,
                                         top_k=4, max_length=16, dtype="float32", track=False))
    return model, str(root / "table")


def check_features(out: str, spec, opts, base_ids: set, result) -> None:
    import duckdb
    from deltalake import DeltaTable

    table = DeltaTable(out)
    df = table.to_pandas()
    ids = list(df["docid"])
    assert len(ids) == len(set(ids)), "a docid is stored twice"
    want, bad = _expected(spec, opts["limit"])
    new = set(ids) - base_ids
    assert new <= want, sorted(new - want)
    missing = want - set(ids)
    assert len(missing) == result.docs_skipped_no_tokens, (missing, result)
    assert result.docs_processed == len(new)
    assert result.invalid_utf8 == bad
    assert all(i and i.strip() for i in ids)
    assert df["n_tokens"].between(1, opts["max_length"]).all()
    assert (df["token_num"] >= 0).all()
    nags = index_rows(df["fwd_up"], TINY_LAYERS * opts["top_k"], "fwd_up")  # packed or arrays
    assert all(len(a) == TINY_LAYERS * opts["top_k"] for a in nags)
    assert all(a.min() >= 0 and a.max() < TINY_FWD_UP for a in nags)
    props = table.metadata().configuration
    assert props["nag.kind"] == "features" and props["nag.top_k"] == str(opts["top_k"])
    files = table.file_uris()
    if files:
        listing = ", ".join(f"'{f}'" for f in files)
        assert duckdb.sql(f"select count(*) from read_parquet([{listing}])").fetchone()[0] == len(df)


def _refusal(outcome, before: TableState, out: str) -> None:
    assert outcome.status == 2, outcome
    # Which refusals the examples reach (``--hypothesis-show-statistics``).
    event(re.sub(r"/\S+|'[^']*'|\d+", "_", outcome.error_lines[0])[:70] if outcome.error_lines else "?")
    assert len(outcome.error_lines) == 1, outcome.stderr
    assert NAMED.search(outcome.error_lines[0]), outcome.error_lines[0]
    assert TableState.of(out) == before, "a refused run changed the table"


@settings(**SETTINGS)
@given(spec=documents(), opts=EXTRACT_OPTIONS)
def test_extraction_succeeds_with_a_contract_table_or_refuses_in_one_line(spark, base_features,
                                                                          tmp_path, spec, opts):
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    model, base = base_features
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    src = write_input(spec, folder)
    out = str(folder / "features")
    base_ids = set()
    if opts["existing"]:
        shutil.copytree(base, out)
        base_ids = {"doc0", "base1"}
    before = TableState.of(out)
    outcome = as_job(lambda: run_extraction(spark, ExtractOptions(
        src, out, model=model, dtype="float32", track=False, top_k=opts["top_k"],
        max_length=opts["max_length"], batch_tokens=opts["batch_tokens"],
        chunk_docs=opts["chunk_docs"], limit=opts["limit"], progress_seconds=3600.0)))
    if outcome.status == 0:
        event("extracted")
        check_features(out, spec, opts, base_ids, outcome.result)
    else:
        _refusal(outcome, before, out)


# ---------------------------------------------------------------- ranking

POOLS = st.fixed_dictionaries({
    "n": st.integers(12, 40), "seed": st.integers(0, 5),
    "tokens": _mostly("ok", "null", "negative", "zero", "huge"),
    "quality": _mostly("ok", "nan", "text"), "duplicate": _mostly(False, True)})
RANK_OPTIONS = st.fixed_dictionaries({
    "fraction": _mostly(0.3, 1.0, 0.01, 0.0, 1.5, math.nan),
    "power": _mostly(1.0, 2.0, 0.0, -1.0, math.inf),
    "layers": _mostly("all", "last", "first", "0,3", "7", "x"),
    "neuron_type": _mostly("fwd_up", "att_q", "bogus"),
    "quality_col": _mostly(None, "quality"),
    "targets": _mostly(("hellaswag",), ("hellaswag", "arc_c"), ("nope",)),
    "existing": st.booleans()})


def write_pool(spark, spec, path: str):
    """A features table like extraction's, with the generated defects."""
    import numpy as np
    from pyspark.sql import functions as F

    from nag_spark.delta import write_table
    from rank_fixtures import LINEAGE

    pdf = synthetic_pool(spec["n"], seed=spec["seed"])
    pdf.loc[pdf.index[:2], "dataset"] = ["hellaswag_train", "arc_c_train"]  # targets exist
    if spec["duplicate"]:
        pdf.loc[pdf.index[-1], "docid"] = pdf.loc[pdf.index[-2], "docid"]
    tokens = {"ok": pdf.token_num, "zero": pdf.token_num * 0, "huge": pdf.token_num + 2 ** 40,
              "null": pdf.token_num.astype("Int64").mask(pdf.index == pdf.index[-3]),
              "negative": pdf.token_num.where(pdf.index != pdf.index[-3], -7)}[spec["tokens"]]
    rows = [(r.docid, r.dataset, None if t is None or t is np.nan or str(t) == "<NA>" else int(t),
             int(r.n_tokens), [int(v) for v in r.fwd_up], float(r.quality))
            for r, t in zip(pdf.itertuples(), tokens)]
    df = spark.createDataFrame(rows, "docid string, dataset string, token_num long, n_tokens int, "
                                     "fwd_up array<smallint>, quality double")
    if spec["quality"] == "nan":
        df = df.withColumn("quality", F.when(F.col("docid") == pdf.docid.iloc[-4], F.lit(float("nan")))
                           .otherwise(F.col("quality")))
    elif spec["quality"] == "text":
        df = df.withColumn("quality", F.col("quality").cast("string"))
    write_table(df.repartition(2), path, mode="overwrite", properties=LINEAGE)
    return pdf.assign(token_num=tokens)


def check_selection(out: str, pool, opts, result) -> None:
    import duckdb
    from deltalake import DeltaTable

    table = DeltaTable(out)
    sel = table.to_pandas()
    props = table.metadata().configuration
    assert props["nag.kind"] == "selection" and props["nag.mlflow_run_id"] == result.run_id
    assert props["nag.fraction"] == str(opts["fraction"])
    per = opts["fraction"] / len(opts["targets"])
    for name, rows in sel.groupby("target"):
        rows = rows.sort_values("rank")
        assert rows["docid"].is_unique and list(rows["rank"]) == list(range(1, len(rows) + 1))
        assert (rows["cum_tokens"] == rows["token_num"].cumsum()).all()
        budget = math.floor(per * result.pool_tokens)
        assert len(rows) == 1 or rows["cum_tokens"].iloc[-1] <= budget, (name, budget)
    assert set(sel["target"]) == set(opts["targets"])
    listing = ", ".join(f"'{f}'" for f in table.file_uris())
    assert duckdb.sql(f"select count(*) from read_parquet([{listing}])").fetchone()[0] == len(sel)


@pytest.fixture(scope="module")
def old_selection(spark, tmp_path_factory, mlflow_uri):
    """A selection table made once: examples with ``existing`` overwrite a copy of it."""
    from nag_spark.spark.rank import RankOptions, run_ranking

    root = tmp_path_factory.mktemp("property-selection")
    pool = str(root / "pool")
    write_pool(spark, {"n": 20, "seed": 0, "tokens": "ok", "quality": "ok", "duplicate": False}, pool)
    run_ranking(spark, RankOptions(targets=["hellaswag"], pool=pool, output=str(root / "sel"),
                                   experiment="property"))
    return str(root / "sel")


@settings(**dict(SETTINGS, max_examples=max(1, EXAMPLES * 2 // 3)))
@given(pool_spec=POOLS, opts=RANK_OPTIONS)
def test_ranking_succeeds_with_a_contract_selection_or_refuses_in_one_line(
        spark, old_selection, mlflow_uri, tmp_path, pool_spec, opts):
    from nag_spark.spark.rank import RankOptions, run_ranking

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    pool = write_pool(spark, pool_spec, str(folder / "pool"))
    out = str(folder / "sel")
    if opts["existing"]:
        shutil.copytree(old_selection, out)
    before = TableState.of(out)
    outcome = as_job(lambda: run_ranking(spark, RankOptions(
        targets=list(opts["targets"]), pool=str(folder / "pool"), output=out, fraction=opts["fraction"],
        power=opts["power"], layers=opts["layers"], neuron_type=opts["neuron_type"],
        quality_col=opts["quality_col"], experiment="property")))
    if outcome.status == 0:
        event("ranked")
        check_selection(out, pool, opts, outcome.result)
    else:
        _refusal(outcome, before, out)
    assert N == 16  # the lineage the pools are written with (rank_fixtures)
