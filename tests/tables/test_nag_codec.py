"""The NAG codec: what extraction encodes, ranking decodes unchanged, in the packed
layout and the list layouts of earlier tables."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pytest

from nag_spark.errors import InputError
from nag_spark.tables.nag_codec import (decode_nags, encode_nags, index_rows, index_type,
                                        legacy_index_type, table_index_types)


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


def test_index_rows_decodes_packed_bytes_and_passes_arrays_through():
    m = np.array([[1, 2, 3], [4, 5, 6]])
    packed = encode_nags(m, np.ones(2, bool), "bits3").to_pylist()  # bytes, as pandas gives them
    assert [r.tolist() for r in index_rows(packed, 3, "fwd_up")] == m.tolist()
    assert index_rows([[1, 2, 3]], None, "fwd_up") == [[1, 2, 3]]
    with pytest.raises(InputError, match="packed NAGs; decoding them needs L and K"):
        index_rows(packed, None, "fwd_up")
