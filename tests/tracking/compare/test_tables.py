"""The comparison's tables from overlap bit masks (pure: no Spark, no MLflow)."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.tracking.compare.tables import (composition_table, jaccard_from_masks,
                                               jaccard_tables, pool_tokens, selection_table,
                                               side_by_side)


def test_jaccard_from_masks_small():
    # docs only in 0: 2 (20 tokens); in both: 1 (30); only in 1: 1 (50)
    jd, jt = jaccard_from_masks([(1, 2, 20), (3, 1, 30), (2, 1, 50)], 2)
    assert jd[0, 1] == pytest.approx(1 / 4) and jt[0, 1] == pytest.approx(30 / 100)
    assert np.allclose(np.diag(jd), 1)


def test_jaccard_of_two_empty_selections_is_one():
    jd, jt = jaccard_from_masks([(0b100, 3, 30)], 3)
    assert jd[0, 1] == jt[0, 1] == 1.0 and jd[0, 2] == 0.0


def test_side_by_side_puts_differences_first():
    t = side_by_side({"a": {"x": "1", "y": "2"}, "b": {"x": "1", "y": "3", "z": "4"}})
    assert list(t.index) == ["y", "z", "x"]
    assert t["differs"].tolist() == [True, True, False]


def test_selection_and_jaccard_tables_are_labelled():
    masks = [(0b01, 2, 20), (0b11, 1, 30), (0b10, 1, 50)]
    sel = selection_table(["a", "b"], {"a": 4, "b": 2}, masks)
    assert sel.index.name == "run" and sel.loc["a"].tolist() == [4, 3, 50]
    assert sel.loc["b"].tolist() == [2, 2, 80]
    jd_df, jt_df = jaccard_tables(*jaccard_from_masks(masks, 2), ["a", "b"])
    assert jd_df.index.name == "Jaccard (docids)" and jt_df.index.name == "Jaccard (tokens)"
    assert jd_df.loc["a", "b"] == pytest.approx(0.25) and list(jt_df.columns) == ["a", "b"]


def test_composition_with_and_without_the_pool():
    assert pool_tokens([None, {"selected": {}}]) is None
    with_pool = composition_table({"web": 1, "code": 3}, {"a": {"web": 2}, "b": {"code": 1}})
    assert list(with_pool.columns) == ["pool", "a", "b"]
    assert list(with_pool.index) == ["code", "web"]  # sorted by the pool's share
    assert np.allclose(with_pool.sum(), 1.0) and with_pool.loc["web", "b"] == 0.0
    without = composition_table(None, {"a": {"web": 2, "code": 6}})
    assert list(without.columns) == ["a"] and without.index[0] == "code"
