"""Bit-packed NAG rows (kernels/packing.py): the layout, checked against a plain bit-string
reference, round trips at every bit count, and the row length that names its bits."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.errors import InputError
from nag_spark.kernels.packing import (WIDE_LOADS, bits_of_row, needed_bits, pack_rows,
                                       row_bytes, stored_bits, unpack_rows, wide_row)


def _reference_pack(row, bits: int) -> bytes:
    """The documented layout, spelled out: LSB-first bit stream, byte i holds bits 8i..8i+7."""
    stream = "".join(format(int(v), f"0{bits}b")[::-1] for v in row)
    stream += "0" * (-len(stream) % 8)
    return bytes(int(stream[i:i + 8][::-1], 2) for i in range(0, len(stream), 8))


# Widths with and without a tail after the groups of eight indices; bits on both sides of
# 25, where unpacking leaves the compiled-per-bit-count path for the byte stream.
@pytest.mark.parametrize("width, bits", [(1, 1), (3, 2), (6, 13), (20, 7), (560, 13),
                                         (9, 16), (5, 25), (4, 32), (33, 17), (24, 3),
                                         (70, 26), (17, 11)])
def test_layout_matches_the_reference_and_round_trips(width, bits):
    rng = np.random.default_rng(bits * 100 + width)
    bits = stored_bits(width, bits)
    rows = 40  # enough that most rows are read with 8-byte loads, the last ones byte-wise
    values = rng.integers(0, 1 << bits, (rows, width), dtype=np.int64)
    packed = pack_rows(values, bits)
    assert packed.shape == (rows, row_bytes(width, bits))
    assert [bytes(r) for r in packed] == [_reference_pack(r, bits) for r in values]
    assert bits_of_row(packed.shape[1], width) == bits
    flat = packed.ravel()
    # Rows read from anywhere in a buffer, the last one included (its end is the buffer's).
    for order in (np.arange(rows), np.array([rows - 1, 0, 3])):
        got = unpack_rows(flat, order * packed.shape[1], width, bits)
        assert np.array_equal(got, values[order])


def test_eight_byte_loads_stay_inside_the_buffer():
    # A row's indices are read with 8-byte loads only where the last load, starting at
    # the row's last byte, ends inside the buffer; the rest byte by byte.
    buffer = np.zeros(20, np.uint8)
    assert wide_row(buffer, 0, 8, 13) == WIDE_LOADS    # 13-byte row: loads end at byte 19
    assert not wide_row(buffer, 1, 8, 13) and not wide_row(buffer, 0, 8, 14)


def test_bits_and_widening():
    assert needed_bits(6144) == 13 and needed_bits(8192) == 13 and needed_bits(8193) == 14
    assert stored_bits(560, 13) == 13          # 910 bytes a row at L=28, K=20
    assert stored_bits(2, 13) == 16            # the same 4 bytes hold 16 bits each
    with pytest.raises(InputError, match="do not fit in 4 bits"):
        pack_rows(np.array([[16]]), 4)
    with pytest.raises(InputError, match="does not hold 560 indices"):
        bits_of_row(911, 560)
