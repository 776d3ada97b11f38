"""Reading compared selections at their recorded versions, and the bit-mask overlap job."""
from __future__ import annotations

import pytest

from nag_spark.errors import TableError
from nag_spark.spark.overlap import overlap_counts, read_selection
from nag_spark.tracking.compare.rank_runs import RankRun


def _run(path, version: int) -> RankRun:
    return RankRun("rid", "lab", "lab", "e", {}, {}, {}, str(path), version)


def test_overlap_counts_one_row_per_set_of_runs(spark):
    a = spark.createDataFrame([("d1", 10), ("d2", 20), ("d3", 5)], "docid string, token_num long")
    b = spark.createDataFrame([("d2", 20), ("d3", 7), ("d4", 1)], "docid string, token_num long")
    c = spark.createDataFrame([("d4", 1)], "docid string, token_num long")
    got = sorted(overlap_counts(spark, [a, b, c]))
    # d1: a only; d2, d3: a and b (d3 counts its largest token_num, 7); d4: b and c
    assert got == [(0b001, 1, 10), (0b011, 2, 27), (0b110, 1, 1)]


def test_read_selection_at_its_version(spark, tmp_path):
    from nag_spark.delta import write_table

    path = str(tmp_path / "sel")
    v0 = write_table(spark.createDataFrame([("d1", 3, "web"), ("d2", 4, None)],
                                           "docid string, token_num long, dataset string"),
                     path, mode="overwrite")
    write_table(spark.createDataFrame([("d9", 1, "code")], "docid string, token_num long, dataset string"),
                path, mode="overwrite")
    sel = read_selection(spark, _run(path, v0))
    assert sel.rows == 2 and sel.composition == {"web": 3, "(none)": 4}
    assert sorted(sel.frame.columns) == ["dataset", "docid", "token_num"]
    with pytest.raises(TableError, match=r"at version 7 .*latest version is 1"):
        read_selection(spark, _run(path, 7))


def test_read_selection_refusals(spark, tmp_path):
    from nag_spark.delta import write_table

    with pytest.raises(TableError, match="the table cannot be opened"):
        read_selection(spark, _run(tmp_path / "nothing", 0))
    path = str(tmp_path / "features")
    write_table(spark.createDataFrame([("d1",)], "docid string"), path, mode="overwrite")
    with pytest.raises(TableError, match=r"no column\(s\) \['token_num'\]: not a selection table"):
        read_selection(spark, _run(path, 0))
