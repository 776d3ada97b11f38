"""Overlap of eval texts with another table: by docid and by normalised text (real Spark)."""
from __future__ import annotations

import pytest

from nag_spark.errors import InputError
from nag_spark.evaluate.overlap import find_overlap, normalise_text, refuse_overlaps


def test_counts_docid_and_normalised_text_matches(spark):
    ev = spark.createDataFrame([("e1", "The  Cat sat"), ("e2", "a DOG\n ran"), ("e3", "fresh text")],
                               "docid string, doc string")
    other = spark.createDataFrame([("e1", "unrelated"), ("t9", "a dog ran "), ("t8", "a dog ran")],
                                  "docid string, doc string")
    o = find_overlap(ev, other, "dataset=x_val", "the targets")
    assert (o.by_docid, o.by_text) == (1, 1)
    assert o.docid_example == "e1" and o.text_example == ("e2", "t8")
    with pytest.raises(InputError, match=r"1 share a docid \(e.g. 'e1'\) and 1 share their "
                                         r"normalised text \(e.g. eval docid 'e2' = 't8'\)"):
        refuse_overlaps([o])
    clean = find_overlap(ev.filter("docid = 'e3'"), other, "x", "y")
    assert not clean.any
    refuse_overlaps([clean])  # nothing to refuse


def test_spark_and_python_normalise_alike(spark):
    from nag_spark.evaluate.overlap import normalised

    texts = ["  A\tB  c\n\nD ", "x", "MiXeD   Case"]
    got = [r[0] for r in spark.createDataFrame([(t,) for t in texts], "doc string")
           .select(normalised("doc")).collect()]
    assert got == [normalise_text(t) for t in texts]
