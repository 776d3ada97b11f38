"""The NAG codec: how a features table stores each document's L×K neuron indices.

New tables hold one ``binary`` value per row, the indices bit-packed at ``ceil(log2 N)``
bits each (:mod:`nag_spark.kernels.packing` gives the layout); tables of earlier releases
hold ``array<short>`` or ``array<int>``. Both decode to the same ``(rows, L*K)`` array.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError
from ..kernels.packing import (bits_of_row, needed_bits, pack_rows, row_bytes, stored_bits,
                               unpack_rows)


def index_type(n_neurons: int) -> str:
    """How a new table stores NAGs of ``n_neurons`` neurons: ``"bits<b>"``, bit-packed rows
    of ``b`` bits per index in a ``binary`` column (:mod:`nag_spark.kernels.packing`).

    Tables written before NAGs were packed hold ``array<short>`` (``"short"``, N <= 32767) or
    ``array<int>`` (``"int"``): :func:`decode_nags` reads them as before, and an extraction
    resuming one keeps its kind (:func:`table_index_types`).

    >>> index_type(576), index_type(6144), index_type(40000)
    ('bits10', 'bits13', 'bits16')
    """
    return f"bits{needed_bits(n_neurons)}"


def legacy_index_type(n_neurons: int) -> str:
    """The ``array`` kind tables of earlier releases used: ``"short"`` or ``"int"``.

    >>> legacy_index_type(32767), legacy_index_type(32768)
    ('short', 'int')
    """
    return "short" if n_neurons <= 32767 else "int"


def packed_bits(kind: str) -> int | None:
    return int(kind[4:]) if kind.startswith("bits") else None


def _numpy_type(kind: str):
    bits = packed_bits(kind)
    if bits is not None:
        return np.int16 if bits <= 15 else np.int32
    return np.int16 if kind == "short" else np.int32


def table_index_types(arrow_schema, neuron_types: Sequence[str]) -> dict[str, str]:
    """The kind of each neuron-type column of an existing table's (Arrow) schema, so that
    appending to it keeps its storage; ``{}`` for columns it lacks."""
    import pyarrow as pa

    out = {}
    for t in neuron_types:
        if t not in arrow_schema.names:
            continue
        typ = arrow_schema.field(t).type
        if pa.types.is_list(typ) or pa.types.is_large_list(typ):
            out[t] = "short" if pa.types.is_int16(typ.value_type) else "int"
    return out


def empty_nags(rows: int, width: int, kind: str) -> np.ndarray:
    """A zeroed ``(rows, width)`` buffer of the index type's numpy dtype."""
    return np.zeros((rows, width), dtype=_numpy_type(kind))


def encode_nags(matrix: np.ndarray, valid: np.ndarray, kind: str):
    """Arrow column of the rows of ``matrix``; rows where ``valid`` is False are null.

    ``kind`` ``"bits<b>"`` gives packed ``binary`` rows; ``"short"``/``"int"`` the lists
    of earlier releases.

    Examples
    --------
    >>> col = encode_nags(np.array([[1, 2], [3, 4]]), np.array([True, False]), "short")
    >>> col.to_pylist()
    [[1, 2], None]
    >>> decode_nags(encode_nags(np.array([[1, 2, 3]]), np.array([True]), "bits2"), 3, "x").tolist()
    [[1, 2, 3]]
    """
    import pyarrow as pa

    n, width = matrix.shape
    valid = np.asarray(valid, dtype=bool)
    bits = packed_bits(kind)
    if bits is not None:
        packed = pack_rows(np.asarray(matrix)[valid], stored_bits(width, bits))
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.where(valid, packed.shape[1], 0).astype(np.int32), out=offsets[1:])
        validity = None if valid.all() else pa.array(valid).buffers()[1]
        return pa.Array.from_buffers(pa.binary(), n, [validity, pa.py_buffer(offsets),
                                                      pa.py_buffer(packed.ravel())])
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.where(valid, width, 0).astype(np.int32), out=offsets[1:])
    arrow_type = pa.int16() if kind == "short" else pa.int32()
    values = pa.array(np.asarray(matrix)[valid].reshape(-1).astype(_numpy_type(kind)), type=arrow_type)
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(~valid))


_WHOLE_WORDS = {8: np.uint8, 16: np.dtype("<u2"), 32: np.dtype("<u4")}


def packed_rows(column, width: int, name: str):
    """``(data, starts, bits)`` of a packed ``binary`` NAG column without nulls: its bytes,
    where each row begins in them, and the bits per index (no copy of the bytes).

    Raises
    ------
    InputError
        Rows of different lengths, or of a length that does not hold ``width`` indices.
    """
    import pyarrow as pa

    large = pa.types.is_large_binary(column.type)
    bufs = column.buffers()
    offsets = np.frombuffer(bufs[1], np.int64 if large else np.int32,
                            count=len(column) + 1, offset=column.offset * (8 if large else 4))
    lengths = np.diff(offsets)
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo != hi:
        raise InputError(f"column {name!r} holds packed NAGs of {lo}..{hi} bytes; every row "
                         f"of one column has the same length (L*K = {width} indices)")
    try:
        bits = bits_of_row(lo, width)
    except InputError:
        raise InputError(f"column {name!r} holds packed NAGs of {lo} bytes, which do not "
                         f"hold L*K = {width} indices (the target's L and K)") from None
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return data, offsets[:-1], bits


def _decode_packed(column, width: int, name: str) -> np.ndarray:
    """Packed ``binary`` rows as a ``(rows, width)`` array, without a copy of the bytes."""
    data, starts, bits = packed_rows(column, width, name)
    whole = _WHOLE_WORDS.get(bits)
    if whole is not None:
        # Byte-aligned indices in rows of one length (so contiguous): a view of the buffer.
        start, n = int(starts[0]), len(starts)
        return data[start:start + row_bytes(width, bits) * n].view(whole).reshape(n, width)
    return unpack_rows(data, starts, width, bits)


def decode_nags(column, width: int, name: str) -> np.ndarray:
    """View an Arrow column of NAGs (packed ``binary`` or a list) as a ``(rows, width)``
    integer array.

    Raises
    ------
    InputError
        A null NAG, or a NAG whose length is not ``width`` (L*K of the target).

    Examples
    --------
    >>> import pyarrow as pa
    >>> decode_nags(pa.array([[1, 2], [3, 4]], pa.list_(pa.int16())), 2, "fwd_up").tolist()
    [[1, 2], [3, 4]]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        raise InputError(f"column {name!r} has null NAGs; every scored row needs one")
    if len(column) == 0:
        return np.zeros((0, width), dtype=np.int64)
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        return _decode_packed(column, width, name)
    lo, hi = pc.min_max(pc.list_value_length(column)).values()
    if lo.as_py() != width or hi.as_py() != width:
        raise InputError(
            f"column {name!r} holds NAGs of {lo.as_py()}..{hi.as_py()} indices; expected "
            f"L*K = {width} (the target's L and K)"
        )
    flat = column.flatten()  # respects slicing of the batch
    return flat.to_numpy(zero_copy_only=False).reshape(len(column), width)


def index_rows(values: Sequence, width: int | None, name: str) -> list:
    """NAGs as Python or pandas hand them over (lists, arrays, or the packed ``bytes`` of
    a ``binary`` column) as a list of index arrays; packed rows need ``width`` (L*K)."""
    import pyarrow as pa

    values = list(values)
    if not values or not isinstance(values[0], (bytes, bytearray, memoryview)):
        return values
    if not width:
        raise InputError(f"column {name!r} holds packed NAGs; decoding them needs L and K "
                         "(the nag.num_layers and nag.top_k table properties)")
    return list(decode_nags(pa.array([bytes(v) for v in values], pa.binary()), width, name))
