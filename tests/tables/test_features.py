"""The features table contract: lineage round trip, the checks that refuse mixed lineages,
and the NAG codec (what extraction encodes, ranking decodes unchanged)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pytest

from nag_spark.errors import InputError, LineageMismatchError, TableError
from nag_spark.tables.features import (FEATURE_COLUMNS, FeaturesLineage, decode_nags,
                                       encode_nags, features_schema, index_type,
                                       index_rows, legacy_index_type, model_properties,
                                       table_index_types)


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


@pytest.mark.parametrize("kind, arrow", [("short", pa.list_(pa.int16())),
                                         ("int", pa.list_(pa.int32())),
                                         ("bits15", pa.binary()), ("bits16", pa.binary()),
                                         ("bits32", pa.binary())])
def test_codec_round_trip_with_null_rows(kind, arrow):
    rng = np.random.default_rng(0)
    m = rng.integers(0, 30000, (5, 6))
    valid = np.array([True, False, True, True, False])
    col = encode_nags(m, valid, kind)
    assert col.type == arrow
    assert col.null_count == 2
    present = col.filter(pa.array(valid))
    np.testing.assert_array_equal(decode_nags(present, 6, "fwd_up"), m[valid])
    # A sliced batch decodes its own rows only.
    np.testing.assert_array_equal(decode_nags(present.slice(1, 2), 6, "fwd_up"), m[valid][1:3])


def test_decode_refuses_nulls_and_wrong_widths():
    with pytest.raises(InputError, match="null NAGs"):
        decode_nags(pa.array([[1, 2], None], pa.list_(pa.int16())), 2, "fwd_up")
    with pytest.raises(InputError, match=r"1\.\.2 indices; expected L\*K = 2"):
        decode_nags(pa.array([[1, 2], [3]], pa.list_(pa.int16())), 2, "fwd_up")
    assert decode_nags(pa.array([], pa.list_(pa.int16())), 4, "x").shape == (0, 4)


def test_index_type_boundary():
    assert index_type(8192) == "bits13" and index_type(8193) == "bits14"
    assert legacy_index_type(32767) == "short" and legacy_index_type(32768) == "int"


def test_packed_rows_are_about_910_bytes_and_sixteen_bits_is_a_view():
    rng = np.random.default_rng(1)
    m = rng.integers(0, 6144, (4, 560))
    col = encode_nags(m, np.ones(4, bool), index_type(6144))
    assert pa.compute.binary_length(col).to_pylist() == [910] * 4
    assert np.array_equal(decode_nags(col.slice(1, 2), 560, "fwd_up"), m[1:3])
    wide = encode_nags(m, np.ones(4, bool), "bits16")
    # Little-endian uint16, as any reader sees it; decoded without a copy.
    assert np.frombuffer(wide[2].as_py(), "<u2").tolist() == m[2].tolist()
    view = decode_nags(wide.slice(1, 3), 560, "fwd_up")
    assert np.array_equal(view, m[1:]) and not view.flags.owndata


def test_decode_refuses_packed_rows_of_another_width_or_mixed_lengths():
    col = encode_nags(np.zeros((2, 6), int), np.ones(2, bool), "bits13")
    with pytest.raises(InputError, match=r"packed NAGs of 10 bytes, which do not hold L\*K = 9"):
        decode_nags(col, 9, "fwd_up")
    mixed = pa.array([b"\x00" * 10, b"\x00" * 12], pa.binary())
    with pytest.raises(InputError, match=r"packed NAGs of 10\.\.12 bytes"):
        decode_nags(mixed, 6, "fwd_up")


def test_existing_table_kinds_are_kept():
    schema = pa.schema([("docid", pa.string()), ("fwd_up", pa.list_(pa.int16())),
                        ("att_k", pa.list_(pa.int32())), ("fwd_down", pa.binary())])
    assert table_index_types(schema, ["fwd_up", "att_k", "fwd_down", "att_v"]) == {
        "fwd_up": "short", "att_k": "int"}


def test_schema_follows_the_contract():
    schema = features_schema(True, ["fwd_up", "att_k"], {"fwd_up": "short", "att_k": "int"})
    assert schema.names == ["docid", "dataset", "token_num", "n_tokens", "fwd_up", "att_k"]
    assert schema["fwd_up"].dataType.simpleString() == "array<smallint>"
    assert schema["att_k"].dataType.simpleString() == "array<int>"
    assert features_schema(False, ["fwd_up"], {"fwd_up": "short"}).names[1] == "token_num"
    assert features_schema(False, ["fwd_up"], {"fwd_up": "bits13"})["fwd_up"].dataType.simpleString() == "binary"
    assert set(FEATURE_COLUMNS) >= {"docid", "doc", "dataset", "token_num", "n_tokens"}


def test_index_rows_decodes_packed_bytes_and_passes_arrays_through():
    m = np.array([[1, 2, 3], [4, 5, 6]])
    packed = encode_nags(m, np.ones(2, bool), "bits3").to_pylist()  # bytes, as pandas gives them
    assert [r.tolist() for r in index_rows(packed, 3, "fwd_up")] == m.tolist()
    assert index_rows([[1, 2, 3]], None, "fwd_up") == [[1, 2, 3]]
    with pytest.raises(InputError, match="packed NAGs; decoding them needs L and K"):
        index_rows(packed, None, "fwd_up")
