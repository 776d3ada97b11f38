"""The docid hash of the pool's uniqueness check (kernels/docid_hash.py)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from nag_spark.kernels.docid_hash import docid_hashes


def _fnv1a(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) % (1 << 64)
    return h - (1 << 64) if h >= 1 << 63 else h  # as a signed int64


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=40), st.integers(0, 5))
def test_each_docid_hashes_to_fnv1a_of_its_utf8_bytes_in_any_slice(ids, start):
    col = pa.array(ids, pa.string()).slice(min(start, len(ids)))
    got = docid_hashes(col).to_pylist()
    assert got == [None if d is None else _fnv1a(d) for d in col.to_pylist()]


def test_large_strings_and_chunks_hash_like_strings():
    ids = [f"doc-{i:06d}" for i in range(1000)]
    want = docid_hashes(pa.array(ids))
    assert docid_hashes(pa.array(ids, pa.large_string())).equals(want)
    assert docid_hashes(pa.chunked_array([ids[:300], ids[300:]])).equals(want)
    assert len(np.unique(want.to_numpy())) == 1000
