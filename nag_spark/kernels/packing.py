"""Bit-packed NAG rows: each of a row's L×K neuron indices in ``bits`` bits, no padding.

The packed layout of one row (a document's NAG of one neuron type), as stored in the
features table's ``binary`` columns (docs/delta.md):

* the row's ``width = L*K`` indices, layer-major, form one little-endian bit stream:
  index ``j`` occupies stream bits ``j*bits .. (j+1)*bits - 1``, least significant bit
  first, and stream bit ``i`` is bit ``i % 8`` (value ``1 << (i % 8)``) of byte ``i // 8``;
* the row is ``ceil(width * bits / 8)`` bytes; the unused high bits of its last byte are 0;
* ``bits`` is not stored: it is ``8 * len(row) // width``. The writer widens the bits the
  neuron count needs to that value (the same bytes, no cost), so a reader needs only the
  row and ``width``.

At L=28, K=20 and N=6144 (13 bits) a row is 910 bytes, against 1120 for plain ``uint16``;
packing and unpacking are one compiled pass per row.
"""
from __future__ import annotations

import sys

import numba
import numpy as np
from numba.extending import intrinsic

from ..errors import InputError


def needed_bits(n_neurons: int) -> int:
    """Bits that hold every index ``0 .. n_neurons - 1`` (at least 1).

    >>> needed_bits(6144), needed_bits(2), needed_bits(1), needed_bits(65536)
    (13, 1, 1, 16)
    """
    return max(1, int(n_neurons - 1).bit_length())


def row_bytes(width: int, bits: int) -> int:
    """Bytes of one packed row."""
    return (width * bits + 7) // 8


def stored_bits(width: int, bits: int) -> int:
    """The bits the writer uses: ``bits`` widened to what a reader derives from the row's
    length (``8 * row_bytes // width``), at most 32.

    >>> stored_bits(560, 13), stored_bits(6, 13)
    (13, 13)
    >>> stored_bits(2, 13), stored_bits(1, 13)
    (16, 16)
    """
    if not 1 <= bits <= 32:
        raise InputError(f"NAG indices packed in {bits} bits; 1..32 are possible")
    return min(32, 8 * row_bytes(width, bits) // width)


def bits_of_row(nbytes: int, width: int) -> int:
    """The bits per index of a packed row of ``nbytes`` bytes and ``width`` indices.

    Raises
    ------
    InputError
        No bit count gives rows of that length.
    """
    bits = 8 * nbytes // width if width else 0
    if not 1 <= bits <= 32 or row_bytes(width, bits) != nbytes:
        raise InputError(f"a packed NAG row of {nbytes} bytes does not hold {width} indices")
    return bits


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _pack(values, bits, out):
    """OR each index, shifted to its bit offset, into the (zeroed) bytes it spans."""
    width = values.shape[1]
    for i in range(values.shape[0]):
        pos = 0
        for j in range(width):
            word = np.uint64(values[i, j]) << np.uint64(pos & 7)
            p = pos >> 3
            end = (pos + bits + 7) >> 3
            while p < end:
                out[i, p] |= np.uint8(word & np.uint64(0xFF))
                word >>= np.uint64(8)
                p += 1
            pos += bits


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _unpack_row_stream(data, start, bits, width, out_row):
    """One row, a byte at a time: never reads past the row's last byte."""
    mask = np.uint64((1 << bits) - 1)
    acc = np.uint64(0)
    have = 0
    pos = start
    for j in range(width):
        while have < bits:
            acc |= np.uint64(data[pos]) << np.uint64(have)
            pos += 1
            have += 8
        out_row[j] = acc & mask
        acc >>= np.uint64(bits)
        have -= bits


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def read_index(data, at, pos, bits):
    """The index at stream bit ``pos`` of the bytes from ``data[at]``, read from the one
    to four bytes it spans (never a byte beyond its last bit)."""
    p = at + (pos >> 3)
    shift = pos & 7
    word = np.uint32(data[p])
    if shift + bits > 8:
        word |= np.uint32(data[p + 1]) << np.uint32(8)
    if shift + bits > 16:
        word |= np.uint32(data[p + 2]) << np.uint32(16)
    if shift + bits > 24:
        word |= np.uint32(data[p + 3]) << np.uint32(24)
    return (word >> np.uint32(shift)) & np.uint32((1 << bits) - 1)


# Where the eight bytes from an index's first byte lie inside the buffer, the index is cut
# out of one unaligned 8-byte load (a little-endian word, as the stream is): a shift and a
# mask instead of assembling two to four bytes. Unpacking 560 13-bit indices took 0.15
# instead of 0.49 us a row, and scoring packed rows in one pass 0.59 instead of 1.03.
# Only the last row or so of a buffer, whose loads would run past its end, is read a byte
# at a time. A big-endian machine reads every row that way.
WIDE_LOADS = sys.byteorder == "little"


@intrinsic
def _load_le64(typingctx, data, at):
    """The 8 bytes from ``data[at]`` as one uint64 (no bounds check, any alignment)."""
    from llvmlite import ir

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        address = builder.gep(array.data, [args[1]])
        return builder.load(builder.bitcast(address, ir.IntType(64).as_pointer()), align=1)

    # Byte offsets from the data pointer are right only for a contiguous byte array.
    if not (isinstance(data, numba.types.Array) and data.ndim == 1 and data.layout == "C"
            and data.dtype == numba.types.uint8 and isinstance(at, numba.types.Integer)):
        return None
    return numba.types.uint64(data, at), codegen


@numba.njit(cache=True, nogil=True, inline="always")
def wide_row(data, start, width, bits):
    """Whether every index of the row of ``width`` ``bits``-bit indices at ``data[start]``
    may be read by :func:`index_at` with ``wide`` true (its loads end inside ``data``)."""
    return WIDE_LOADS and start + (width * bits + 7) // 8 + 7 <= data.shape[0]


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def index_at(data, at, pos, bits, wide):
    """:func:`read_index`; with ``wide`` (:func:`wide_row` of its row) through one 8-byte
    load. ``bits`` at most 25 (:data:`MAX_CONSTANT_BITS`): the shift and the index fit."""
    if wide:
        word = _load_le64(data, at + (pos >> 3)) >> np.uint64(pos & 7)
        return np.uint32(word & np.uint64((1 << bits) - 1))
    return read_index(data, at, pos, bits)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _unpack_groups(data, starts, bits, width, out):
    """Eight indices at a time: eight ``bits``-bit indices are exactly ``bits`` bytes, so
    each index's byte and shift inside its group are fixed. Called with ``bits`` a
    compile-time constant (:func:`_unpack`), the branches and shifts of
    :func:`index_at` fold away: 0.3 instead of 1.0 us a row at L*K=560, 13 bits (before
    the 8-byte loads)."""
    groups = width // 8
    for i in range(starts.shape[0]):
        base = starts[i]
        wide = wide_row(data, base, width, bits)
        for g in range(groups):
            at = base + g * bits
            for t in range(8):
                out[i, 8 * g + t] = index_at(data, at, t * bits, bits, wide)
        for j in range(8 * groups, width):
            out[i, j] = index_at(data, base, j * bits, bits, wide)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _unpack_streams(data, starts, bits, width, out):
    for i in range(out.shape[0]):
        _unpack_row_stream(data, starts[i], bits, width, out[i])


# Above 25 bits an index and its shift no longer fit the uint32 of :func:`read_index`.
MAX_CONSTANT_BITS = 25


@numba.njit(cache=True, nogil=True)
def _unpack_constant_bits(data, starts, bits, width, out):
    """:func:`_unpack_groups` compiled once per value of ``bits`` (bits <= 25)."""
    _unpack_groups(data, starts, numba.literally(bits), width, out)


def call_constant_bits(kernel, cache: dict, args: tuple, bits_at: int):
    """``kernel(*args)`` through the version of ``kernel`` compiled for the bit count
    ``args[bits_at]`` (``kernel`` passes it on with ``numba.literally``).

    Each compiled version is kept in ``cache`` by argument types: calling it directly
    skips the dispatcher's resolution of a literal argument, which costs ~4 ms a call
    (more than unpacking 1024 rows)."""
    key = tuple(a if i == bits_at else numba.typeof(a) for i, a in enumerate(args))
    compiled = cache.get(key)
    if compiled is not None:
        return compiled(*args)
    result = kernel(*args)  # compiles (or loads) it
    signature = tuple(numba.types.literal(a) if i == bits_at else t for i, (a, t) in
                      enumerate(zip(args, key)))
    found = kernel.overloads.get(signature)
    if found is not None:  # else the dispatcher keeps resolving it: slower, still right
        cache[key] = found.entry_point
    return result


_BY_BITS: dict = {}


def _unpack(data, starts, bits: int, width: int, out) -> None:
    if bits > MAX_CONSTANT_BITS:
        _unpack_streams(data, starts, bits, width, out)
    else:
        call_constant_bits(_unpack_constant_bits, _BY_BITS, (data, starts, bits, width, out), 2)


def pack_rows(values: np.ndarray, bits: int) -> np.ndarray:
    """The rows of ``values`` (non-negative integers below ``2**bits``), packed: a
    ``(rows, row_bytes)`` uint8 array.

    Examples
    --------
    >>> pack_rows(np.array([[1, 2, 3]]), 2).tolist()
    [[57]]
    >>> unpack_rows(pack_rows(np.array([[1, 2, 3]]), 2).ravel(), np.array([0]), 3, bits=2).tolist()
    [[1, 2, 3]]
    """
    values = np.ascontiguousarray(values)
    n, width = values.shape
    if n and (values.min() < 0 or int(values.max()) >> bits):
        raise InputError(f"NAG indices [{values.min()}, {values.max()}] do not fit in {bits} bits")
    out = np.zeros((n, row_bytes(width, bits)), np.uint8)
    if n:
        _pack(values, bits, out)  # compiled once per integer dtype
    return out


def unpack_rows(data: np.ndarray, starts: np.ndarray, width: int, bits: int | None = None,
                nbytes: int | None = None) -> np.ndarray:
    """Unpack ``len(starts)`` rows whose bytes begin at ``data[starts[i]]``: a
    ``(rows, width)`` uint16 array (uint32 above 16 bits).

    ``bits`` defaults to what the row length ``nbytes`` says (:func:`bits_of_row`).
    """
    if bits is None:
        bits = bits_of_row(int(nbytes), width)
    out = np.empty((len(starts), width), np.uint16 if bits <= 16 else np.uint32)
    if len(starts):
        _unpack(np.ascontiguousarray(data, np.uint8), np.ascontiguousarray(starts, np.int64),
                bits, width, out)
    return out
