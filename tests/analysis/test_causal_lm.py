"""The features' model is refused when its layers or neuron count differ from the features'."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from nag_spark.analysis.causal_lm import _check_shape
from nag_spark.errors import LineageMismatchError
from nag_spark.tables.features import FeaturesLineage


def _model(layers: int, neurons: int):
    return SimpleNamespace(config=SimpleNamespace(num_hidden_layers=layers, intermediate_size=neurons))


def test_shape_must_match_the_features():
    lineage = FeaturesLineage(num_layers=30, n_neurons={"fwd_up": 1536}, table="/f")
    _check_shape(_model(30, 1536), "m", lineage)
    _check_shape(_model(12, 64), "m", FeaturesLineage(table="/f"))  # nothing recorded: nothing to refuse
    with pytest.raises(LineageMismatchError,
                       match=r"model 'm' has nag.num_layers=12 but the features /f have 30"):
        _check_shape(_model(12, 1536), "m", lineage)
    with pytest.raises(LineageMismatchError, match=r"nag.n_neurons.fwd_up=64 .* have 1536"):
        _check_shape(_model(30, 64), "m", lineage)
