"""The deactivation inputs: the target profile from the features table's fwd_up NAGs."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.analysis.deactivation_inputs import target_profile
from nag_spark.analysis.deactivation_options import DeactivateOptions, plan_deactivation
from nag_spark.errors import InputError, LineageMismatchError, TableError
from nag_spark.tables.features import FeaturesLineage

L, K, N = 2, 2, 8
NAGS = {"t1": [1, 2, 3, 4], "t2": [1, 5, 3, 6], "p1": [7, 6, 5, 4]}


@pytest.fixture
def plan(tmp_path):
    docs = tmp_path / "docs.parquet"
    docs.write_bytes(b"")
    return plan_deactivation(DeactivateOptions(target="dataset=hellaswag_train", features="feats",
                                               docs=str(docs)))


@pytest.fixture
def features(spark):
    rows = [(d, "hellaswag_train" if d.startswith("t") else "web", v) for d, v in NAGS.items()]
    return spark.createDataFrame(rows, "docid string, dataset string, fwd_up array<short>")


def _lineage(**kw) -> FeaturesLineage:
    values = dict(num_layers=L, top_k=K, neuron_types=("fwd_up",), n_neurons={"fwd_up": N},
                  table="feats")
    values.update(kw)
    return FeaturesLineage(**values)


def test_profile_of_the_target_rows(plan, features):
    docids, profile = target_profile(plan, features, _lineage())
    assert sorted(docids) == ["t1", "t2"] and profile.n_targets == 2
    assert profile.n_neurons == N and profile.weights.shape == (L, N)
    # layer 0 holds 1, 2 (t1) and 1, 5 (t2): neuron 1 is half of the layer's entries
    assert profile.weights[0, 1] == pytest.approx(0.5) and np.allclose(profile.weights.sum(1), 1)


def test_lineage_and_column_refusals(plan, features):
    with pytest.raises(TableError, match="no property 'nag.neuron_types'"):
        target_profile(plan, features, _lineage(neuron_types=None))
    with pytest.raises(LineageMismatchError, match="'att_q'.*needs fwd_up features"):
        target_profile(plan, features, _lineage(neuron_types=("att_q",)))
    with pytest.raises(TableError, match="no property 'nag.top_k'"):
        target_profile(plan, features, _lineage(top_k=None))
    with pytest.raises(TableError, match="no property 'nag.n_neurons.fwd_up'"):
        target_profile(plan, features, _lineage(n_neurons={}))
    with pytest.raises(InputError, match="features table feats has no column 'dataset'"):
        target_profile(plan, features.drop("dataset"), _lineage())


def test_a_target_docid_twice_is_refused(plan, features):
    # Issue 13 item 1: its NAG would count twice in the profile.
    twice = features.unionByName(features.filter("docid = 't2'"))
    with pytest.raises(InputError, match=r"target 'dataset=hellaswag_train' of features table feats: 1 "
                                         r"docids appear more than once among the target rows, "
                                         r"e.g. 't2' \(2x\).*nothing was measured"):
        target_profile(plan, twice, _lineage())
