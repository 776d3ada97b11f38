"""Target rows of a features table: one scan for several targets, the same rows as filters."""
from __future__ import annotations

import pytest

from nag_spark.config import TargetSpec
from nag_spark.errors import InputError
from nag_spark.spark.targets import collect_target_rows, target_condition


@pytest.fixture(scope="module")
def table(spark):
    rows = [(f"d{i}", ["web", "hs", "arc", None][i % 4], i % 3) for i in range(40)]
    return spark.createDataFrame(rows, "docid string, dataset string, split int")


def test_each_target_gets_exactly_its_rows(table):
    specs = [TargetSpec("hs", "dataset", ("hs",)), TargetSpec("mixed", "dataset", ("arc", "web")),
             TargetSpec("by_split", "split", ("2",))]
    got = collect_target_rows(table, specs, ["docid"], "features")
    rows = table.collect()
    want = [{r.docid for r in rows if r.dataset == "hs"},
            {r.docid for r in rows if r.dataset in ("arc", "web")},
            {r.docid for r in rows if r.split == 2}]
    assert [set(t.column("docid").to_pylist()) for t in got] == want
    assert got[0].column_names == ["docid"]


def test_condition_is_false_on_null_filter_values(table):
    spec = TargetSpec("hs", "dataset", ("hs",))
    kept = table.filter(~target_condition([spec])).collect()
    assert len(kept) == 30 and sum(r.dataset is None for r in kept) == 10


def test_empty_target_names_the_values_present(table):
    specs = [TargetSpec("hs", "dataset", ("hs",)), TargetSpec("nope", "dataset", ("mmlu",))]
    with pytest.raises(InputError, match=r"target 'nope' is empty: no row of features has "
                                         r"dataset in \(mmlu\); values present in 'dataset': "
                                         r"None, arc, hs, web"):
        collect_target_rows(table, specs, ["docid"], "features")
