"""The pool scanned from its Delta files in the Python workers (spark/rank/direct_scan.py):
the same selection as Spark's reader, and Spark's reader (or a clear refusal) wherever
reading the files alone would not be a correct Delta read."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pytest  # noqa: E402

from rank_fixtures import (FAST, assert_same_selection, read_delta, reference,  # noqa: E402
                           synthetic_pool, write_features)

from nag_spark.errors import InputError, TableError  # noqa: E402
from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402
from nag_spark.spark.rank import direct_scan  # noqa: E402
from nag_spark.spark.rank.direct_scan import plan_direct_scan  # noqa: E402
from nag_spark.spark.rank.prefix_scan import CACHE_COMPRESSED  # noqa: E402


def _rank(spark, pool, out, scan, **kw):
    opts = dict(targets=["hellaswag"], pool=pool, output=out, fraction=0.3,
                experiment="rank-tests", scan=scan, **FAST)
    opts.update(kw)
    return run_ranking(spark, RankOptions(**opts))


def _same_rows(a, b):
    a, b = (read_delta(r.output_path).sort_values(["target", "rank"]).reset_index(drop=True)
            for r in (a, b))
    assert a.equals(b)


def test_direct_and_spark_scans_select_the_same_rows_under_any_task_split(
        spark, tmp_path, mlflow_uri, monkeypatch):
    """Two targets sharing the pool's table (their rows excluded), a layer subset, the first
    2 of K=3 indices, a payload column; packed NAGs in 3 files. The same rows rewritten in
    row groups of 7 rows, one task each: every row is still scored once."""
    pdf = synthetic_pool(160, seed=61)
    pool = write_features(spark, pdf, str(tmp_path / "pool"), partitions=3, layout="bits4")
    kw = dict(targets=["hellaswag", "arc_c"], layers="0,2", top_k=2, dedupe=True,
              payload_cols=("n_tokens",))
    by_spark = _rank(spark, pool, str(tmp_path / "a"), "spark", **kw)
    spark.conf.set(CACHE_COMPRESSED, "true")  # the user's setting: the scan's is its own
    direct = _rank(spark, pool, str(tmp_path / "b"), "direct", **kw)
    assert (by_spark.scan, direct.scan) == ("spark", "direct")
    assert spark.conf.get(CACHE_COMPRESSED) == "true"
    _same_rows(by_spark, direct)
    assert direct.pool_docs == by_spark.pool_docs and direct.pool_tokens == by_spark.pool_tokens
    assert direct.excluded_target_rows == by_spark.excluded_target_rows > 0

    small = _rewritten_in_row_groups(pool, tmp_path / "small_groups", 7)
    monkeypatch.setattr(direct_scan, "ROWS_PER_TASK", 7)
    scan = plan_direct_scan(small, 0, "direct", 2)
    assert len(scan.tasks) == 23 and sum(t.rows for t in scan.tasks) == len(pdf)
    _same_rows(by_spark, _rank(spark, small, str(tmp_path / "c"), "direct", **kw))


def _rewritten_in_row_groups(src: str, dest: Path, rows: int) -> str:
    """The table at ``src`` as one parquet file of ``rows``-row groups, committed with the
    project's delta-rs commit path (the table's properties kept)."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    from nag_spark.delta.deltars_writer import add_actions, commit_adds
    from nag_spark.delta.location import Location
    from nag_spark.delta.staging import StagedFile

    table = DeltaTable(src)
    data = table.to_pyarrow_table()
    dest.mkdir()
    pq.write_table(data, dest / "part-0.parquet", row_group_size=rows)
    location = Location.parse(str(dest))
    actions = add_actions(location, [StagedFile(f"{location.uri}/part-0.parquet", "part-0.parquet")])
    commit_adds(location, None, "error", data.schema, [a for a, _ in actions], [],
                dict(table.metadata().configuration), None)
    return str(dest)


@pytest.mark.parametrize("scan", ["spark", "direct"])
def test_each_scan_equals_the_sequential_reference_with_the_quality_blend(
        spark, tmp_path, mlflow_uri, scan):
    pdf, target = synthetic_pool(150, seed=63), synthetic_pool(40, seed=64)
    pool = write_features(spark, pdf, str(tmp_path / "pool"), partitions=2)  # array<short>
    targets = write_features(spark, target, str(tmp_path / "t"), partitions=1, layout="bits4")
    res = _rank(spark, pool, str(tmp_path / "sel"), scan, target_features=targets,
                quality_col="quality")
    assert res.scan == scan
    assert_same_selection(read_delta(res.output_path),
                          reference(pdf, target, ["hellaswag"], 0.3, quality=True),
                          key="combined_score")


def test_a_file_written_before_a_column_was_added_reads_that_column_as_nulls(
        spark, tmp_path, mlflow_uri):
    """Delta's schema evolution: the old file has no ``source`` column; both scans give
    nulls for its rows."""
    from deltalake import DeltaTable, write_deltalake

    pdf = synthetic_pool(90, seed=65)
    pool = write_features(spark, pdf.iloc[:50], str(tmp_path / "pool"), partitions=1,
                          layout="bits4")
    more = write_features(spark, pdf.iloc[50:], str(tmp_path / "more"), partitions=1,
                          layout="bits4")
    newer = DeltaTable(more).to_pandas().assign(source="crawl-2")
    write_deltalake(pool, newer, mode="append", schema_mode="merge")
    a = _rank(spark, pool, str(tmp_path / "a"), "spark", payload_cols=("source",), fraction=1.0)
    b = _rank(spark, pool, str(tmp_path / "b"), "direct", payload_cols=("source",), fraction=1.0)
    _same_rows(a, b)
    got = read_delta(b.output_path)
    assert got.source.isna().sum() > 0 and (got.source == "crawl-2").sum() > 0


def test_duplicate_docids_are_found_by_the_direct_scan(spark, tmp_path, mlflow_uri):
    pdf = synthetic_pool(60, seed=66)
    pdf.loc[pdf.index[:3], ["docid", "dataset"]] = ["dup", "books"]  # pool rows, not target
    pool = write_features(spark, pdf, str(tmp_path / "pool"), partitions=2, layout="bits4")
    with pytest.raises(InputError, match=r"2 duplicate rows: 1 docids appear more than once, "
                                         r"e.g. 'dup' \(3x\)"):
        _rank(spark, pool, str(tmp_path / "sel"), "direct", targets=["dataset=web"])


def test_a_hash_collision_falls_back_to_counting_the_docids(spark):
    """Distinct hashes fewer than rows prove nothing: the docids themselves are counted."""
    from nag_spark.spark.rank.pool import pool_stats

    df = spark.createDataFrame([("a", 1, 0.5, 7), ("b", 2, 0.25, 7), ("c", 3, 0.75, 8)],
                               "docid string, token_num long, _nag_d0 double, _nag_docid_hash long")
    stats = pool_stats(df, ["_nag_d0"], None)
    assert stats["docs"] == stats["distinct_ids"] == 3


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_a_partitioned_pool_falls_back_to_sparks_reader_and_says_why(
        spark, tmp_path, mlflow_uri):
    from nag_spark.delta import write_table

    pdf = synthetic_pool(80, seed=67)
    src = write_features(spark, pdf, str(tmp_path / "flat"), partitions=1, layout="bits4")
    pool = str(tmp_path / "pool")
    from nag_spark.delta import read_table, table_properties

    write_table(read_table(spark, src), pool, mode="overwrite",
                properties=table_properties(src), partition_by=["dataset"])
    lines, logger = _Lines(), logging.getLogger("nag_spark")
    logger.addHandler(lines)
    try:
        res = _rank(spark, pool, str(tmp_path / "sel"), "auto", targets=["dataset=web"])
    finally:
        logger.removeHandler(lines)
    assert res.scan == "spark"
    assert (f"pool {pool} is scanned by Spark's reader: the table is partitioned by "
            "['dataset'] (values in the folder names, not in the files)") in lines.lines
    with pytest.raises(TableError, match=r"--scan direct cannot read pool .*partitioned by "
                                         r"\['dataset'\].*use --scan spark"):
        _rank(spark, pool, str(tmp_path / "sel2"), "direct", targets=["dataset=web"])


def _commit(table: Path, version: int, *actions) -> None:
    log = table / "_delta_log" / f"{version:020d}.json"
    log.write_text("".join(json.dumps(a) + "\n" for a in actions
                           + ({"commitInfo": {"timestamp": 1, "operation": "SET TBLPROPERTIES"}},)))


def _metadata(table: Path) -> dict:
    for line in (table / "_delta_log" / f"{0:020d}.json").read_text().splitlines():
        if "metaData" in json.loads(line):
            return json.loads(line)["metaData"]
    raise AssertionError("no metaData in version 0")


def test_deletion_vectors_and_column_mapping_are_never_read_as_plain_files(tmp_path):
    """Either would make "every file of the version" a wrong read: auto leaves them to
    Spark's (Delta) reader, direct refuses and names the feature."""
    import pyarrow as pa
    from deltalake import write_deltalake

    dv, cm = tmp_path / "dv", tmp_path / "cm"
    for t in (dv, cm):
        write_deltalake(str(t), pa.table({"docid": ["a"], "token_num": [1]}))
    _commit(dv, 1, {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7,
                                 "readerFeatures": ["deletionVectors"],
                                 "writerFeatures": ["deletionVectors"]}})
    meta = _metadata(cm)
    schema = json.loads(meta["schemaString"])
    for i, field in enumerate(schema["fields"], 1):
        field["metadata"] = {"delta.columnMapping.id": i,
                             "delta.columnMapping.physicalName": field["name"]}
    meta["schemaString"] = json.dumps(schema)
    meta["configuration"] = {"delta.columnMapping.mode": "name",
                             "delta.columnMapping.maxColumnId": str(len(schema["fields"]))}
    _commit(cm, 1, {"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}}, {"metaData": meta})
    assert plan_direct_scan(str(dv), 1, "auto", 2) is None
    assert plan_direct_scan(str(cm), 1, "auto", 2) is None
    with pytest.raises(TableError, match=r"reader features \['deletionVectors'\]"):
        plan_direct_scan(str(dv), 1, "direct", 2)
    with pytest.raises(TableError, match=r"column mapping \(mode name\)"):
        plan_direct_scan(str(cm), 1, "direct", 2)
    # The version pinned before the features were turned on is a plain read.
    assert plan_direct_scan(str(dv), 0, "direct", 2).rows == 1


def test_object_storage_and_catalog_tables_are_left_to_spark(tmp_path):
    assert plan_direct_scan("s3://bucket/pool", 3, "auto", 2) is None
    with pytest.raises(TableError, match=r"s3://bucket/pool is in object storage"):
        plan_direct_scan("s3://bucket/pool", 3, "direct", 2)
    with pytest.raises(TableError, match=r"main.nag.pool is a catalog table name"):
        plan_direct_scan("main.nag.pool", 3, "direct", 2)
    assert plan_direct_scan(str(tmp_path), 0, "spark", 2) is None
    with pytest.raises(InputError, match=r"--scan 'fast': expected one of auto, spark, direct"):
        plan_direct_scan(str(tmp_path), 0, "fast", 2)


@pytest.mark.parametrize("scan", ["spark", "direct"])
def test_null_and_negative_token_counts_are_refused_naming_a_docid(spark, tmp_path, mlflow_uri,
                                                                  scan):
    pdf = synthetic_pool(60, seed=68).astype({"token_num": "float"})
    web = pdf.index[pdf.dataset == "web"]
    pdf.loc[web[0], "token_num"] = None
    pdf.loc[web[1], "token_num"] = -3
    pool = write_features(spark, pdf, str(tmp_path / "pool"), partitions=2, layout="bits4")
    bad = sorted(pdf.loc[web[:2], "docid"])
    with pytest.raises(InputError, match=r"column 'token_num' has 1 null and 1 negative values "
                                         rf"\(e.g. docid '({bad[0]}|{bad[1]})'"):
        _rank(spark, pool, str(tmp_path / "sel"), scan)
    assert not (tmp_path / "sel").exists()


def test_a_sample_that_misjudges_the_pool_costs_a_second_scan_not_a_wrong_selection(
        spark, tmp_path, mlflow_uri, monkeypatch):
    """The candidates must hold every row up to each cutoff: with the sample's bins forced
    far too low, the scan is repeated with the exact bins and selects what Spark's reader
    selects."""
    from nag_spark.spark.rank import prefix_scan

    pdf = synthetic_pool(150, seed=69)
    pool = write_features(spark, pdf, str(tmp_path / "pool"), partitions=3, layout="bits4")
    kw = dict(targets=["hellaswag", "arc_c"], fraction=0.6)
    by_spark = _rank(spark, pool, str(tmp_path / "a"), "spark", **kw)
    monkeypatch.setattr(prefix_scan, "_sample_limits", lambda *a, **k: [0, 0])
    lines, logger = _Lines(), logging.getLogger("nag_spark")
    logger.addHandler(lines)
    try:
        direct = _rank(spark, pool, str(tmp_path / "b"), "direct", **kw)
    finally:
        logger.removeHandler(lines)
    _same_rows(by_spark, direct)
    assert any(line.startswith("the sample put the candidates of a target below its cutoff")
               for line in lines.lines)
    assert any("(2 scans of the pool)" in line for line in lines.lines)


def test_a_summary_survives_its_sparse_pickle_and_merges_exactly():
    """What a scan task sends (its pool numbers) equals what it counted."""
    import pickle

    import numpy as np
    import pyarrow as pa

    from nag_spark.spark.rank.prefix_scan import _Summary

    rng = np.random.default_rng(3)
    parts = []
    for _ in range(3):
        s = _Summary(2, 64)
        d = [rng.random(40), rng.random(40)]
        bins = [np.floor(x * 64).astype(np.int64) for x in d]
        s.add(pa.array([f"d{i}" for i in range(40)]), pa.array(rng.choice(["a", "b", None], 40)),
              pa.array(rng.integers(0, 9, 40)), d, bins)
        parts.append(s)
    whole = _Summary(2, 64)
    for s in parts:
        whole.merge(pickle.loads(pickle.dumps(s)))
    direct = _Summary(2, 64)
    for s in parts:
        direct.merge(s)
    for t in range(2):
        a, b = whole.histogram(t), direct.histogram(t)
        assert np.array_equal(a.stats.tokens, b.stats.tokens)
        assert np.array_equal(a.stats.lo, b.stats.lo) and np.array_equal(a.stats.hi, b.stats.hi)
        assert a.counts_by_dataset.keys() == {"a", "b", "<none>"}
        assert all(np.array_equal(a.counts_by_dataset[k], b.counts_by_dataset[k])
                   for k in a.counts_by_dataset)
        assert sum(a.counts_by_dataset.values()).sum() == a.stats.counts.sum() == 120
    assert whole.n == direct.n and whole.n["docs"] == 120
    assert whole.dataset_tokens == direct.dataset_tokens
