"""The features table contract: lineage round trip, the checks that refuse mixed lineages,
and the table's schema."""
from __future__ import annotations

import pytest

from nag_spark.errors import LineageMismatchError, TableError
from nag_spark.tables.features import (FEATURE_COLUMNS, FeaturesLineage, features_schema,
                                       model_properties)


def _lineage(**over) -> FeaturesLineage:
    base = dict(model="smollm2-135m", model_digest="d1", architecture="LlamaForCausalLM",
                num_layers=30, top_k=20, max_length=120, dtype="float32",
                neuron_types=("fwd_up", "att_k"), n_neurons={"fwd_up": 1536, "att_k": 576},
                table="/t/pool")
    base.update(over)
    return FeaturesLineage(**base)


def test_properties_round_trip_and_spell_the_contract():
    props = _lineage().to_properties()
    assert props == {
        "nag.kind": "features", "nag.model": "smollm2-135m", "nag.model_digest": "d1",
        "nag.architecture": "LlamaForCausalLM", "nag.num_layers": "30", "nag.top_k": "20",
        "nag.max_length": "120", "nag.dtype": "float32", "nag.neuron_types": "fwd_up,att_k",
        "nag.n_neurons.fwd_up": "1536", "nag.n_neurons.att_k": "576",
        "nag.version": props["nag.version"]}
    back = FeaturesLineage.from_properties(props, "/t/pool")
    assert back == _lineage(library_version=props["nag.version"])
    assert back.width == 600 and back.neurons("att_k") == 576


def test_identity_leaves_out_only_the_library_version():
    props = _lineage().to_properties()
    identity = _lineage().identity_properties()
    assert set(props) - set(identity) == {"nag.kind", "nag.version"}


def test_require_names_the_missing_property_and_table():
    lin = FeaturesLineage.from_properties({"nag.model": "m"}, "/t/x")
    with pytest.raises(TableError, match=r"/t/x has no property 'nag.top_k'"):
        lin.require("top_k")
    with pytest.raises(TableError, match=r"'nag.n_neurons.fwd_up'"):
        lin.neurons("fwd_up")


def test_non_integer_property_is_a_table_error():
    with pytest.raises(TableError, match=r"'nag.num_layers' is 'thirty'"):
        FeaturesLineage.from_properties({"nag.num_layers": "thirty"}, "/t/x")


@pytest.mark.parametrize("field, value, key", [
    ("model_digest", "other", "nag.model_digest"), ("top_k", 10, "nag.top_k"),
    ("num_layers", 2, "nag.num_layers"), ("dtype", "bfloat16", "nag.dtype"),
    ("n_neurons", {"fwd_up": 64, "att_k": 576}, "nag.n_neurons.fwd_up"),
])
def test_check_compatible_names_the_first_difference(field, value, key):
    pool, target = _lineage(), _lineage(table="/t/targets", **{field: value})
    with pytest.raises(LineageMismatchError, match=key) as err:
        pool.check_compatible(target, "fwd_up")
    assert "/t/pool" in str(err.value) and "/t/targets" in str(err.value)


def test_check_compatible_accepts_same_lineage_and_absent_keys():
    _lineage().check_compatible(_lineage(table="/t/targets"), "fwd_up")
    _lineage().check_compatible(_lineage(table="/t/targets", dtype=None), "att_k")


def test_a_neuron_type_the_table_lacks_is_refused():
    with pytest.raises(LineageMismatchError, match=r"not 'att_q'"):
        _lineage().check_compatible(_lineage(table="/t/targets"), "att_q")
    with pytest.raises(LineageMismatchError, match="needs fwd_down"):
        _lineage().require_neuron_type("fwd_down", needed_for="needs fwd_down")


def test_model_properties_copy_lineage_but_not_the_kind():
    props = _lineage().to_properties()
    copied = model_properties(dict(props, other="x"))
    assert "nag.kind" not in copied and "other" not in copied
    assert copied["nag.model_digest"] == "d1"


def test_schema_follows_the_contract():
    schema = features_schema(True, ["fwd_up", "att_k"], {"fwd_up": "short", "att_k": "int"})
    assert schema.names == ["docid", "dataset", "token_num", "n_tokens", "fwd_up", "att_k"]
    assert schema["fwd_up"].dataType.simpleString() == "array<smallint>"
    assert schema["att_k"].dataType.simpleString() == "array<int>"
    assert features_schema(False, ["fwd_up"], {"fwd_up": "short"}).names[1] == "token_num"
    assert features_schema(False, ["fwd_up"], {"fwd_up": "bits13"})["fwd_up"].dataType.simpleString() == "binary"
    assert set(FEATURE_COLUMNS) >= {"docid", "doc", "dataset", "token_num", "n_tokens"}
