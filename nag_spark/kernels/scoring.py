"""Scoring pool NAGs against a :class:`~nag_spark.kernels.profile.TargetProfile`.

``similarity = (1/|layers|) Σ_{l in layers} Σ_k w_l[idx[l, k]]`` and
``nag_distance = 1 - similarity`` (DESIGN.md §1). The profile is flattened once to a vector
of ``L*N`` weights and every index is shifted by ``l*N``, so scoring a document is one
gather and a sum over its ``|layers|·K`` indices: no Python loop per document or layer.

The gather and the sum run in one compiled pass over each row (numba) after a SIMD
min/max range check: numpy needed three more passes (offset add, ``take``, row sum) and
a float64 temporary 4x the size of the int16 indices, and was 2x slower; checking the
range inside the compiled loop also halved its speed (``bench/rank_scale.py
--kernel-only``). Each row is summed left to right in column order, alone, so a
document's score is bit-identical whatever batch or partition it arrives in.
"""
from __future__ import annotations

import numba
import numpy as np

from ..errors import InputError
from .packing import MAX_CONSTANT_BITS, call_constant_bits, index_at, wide_row
from .profile import TargetProfile


# cache=True: the compiled kernel is stored beside this file (or in numba's user cache
# when that is read-only), so each Spark Python worker loads it instead of compiling.
@numba.njit(cache=True, nogil=True, boundscheck=False)
def _gather_sums(nags, offsets, flat_weights, out):
    """``out[i] = Σ_j flat_weights[offsets[j] + nags[i, j]]``; indices already checked."""
    for i in range(nags.shape[0]):
        total = 0.0
        for j in range(nags.shape[1]):
            total += flat_weights[offsets[j] + nags[i, j]]
        out[i] = total


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _gather_sums_4(nags, offsets, stacked, out):
    """``out[t, i] = Σ_j stacked[offsets[j] + nags[i, j], t]`` for four profiles ``t`` in
    one pass over the rows. The four weights of one index lie side by side (one cache
    line), and the four sums are independent chains of additions that the CPU overlaps: a
    single sum waits on each addition before the next. Each sum starts at 0 and adds left
    to right in column order, exactly as :func:`_gather_sums` does, so every score has
    the same bits. (A loop over a run-time number of profiles kept the sums in memory and
    was slower than separate passes.)"""
    for i in range(nags.shape[0]):
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        for j in range(nags.shape[1]):
            row = offsets[j] + nags[i, j]
            a0 += stacked[row, 0]
            a1 += stacked[row, 1]
            a2 += stacked[row, 2]
            a3 += stacked[row, 3]
        out[0, i] = a0
        out[1, i] = a1
        out[2, i] = a2
        out[3, i] = a3


# Packed rows scored as they are unpacked (:meth:`ProfileSetScorer.distances_packed`):
# the same sums in the same order as unpacking first, without the unpacked indices
# written out and read back twice (range check, gather). Measured on one core (13 bits,
# L*K=560): unpacking alone cost 0.49 us a document when each index was assembled from
# its bytes, the gather and sum 0.50, the one pass 0.95-1.03 (their sum: the core was
# busy, not waiting on the chain of additions, which alone takes 0.31). With each index
# cut from one 8-byte load (:func:`~nag_spark.kernels.packing.index_at`) unpacking costs
# 0.15 and the one pass 0.54-0.59, against 1.03-1.06 unpacking first. Four profiles'
# gathers keep the core busy on their own: one pass gained nothing for them (measured
# once, with byte-wise reads: 1.79 against 1.80 us without a range check, 2.07-2.30 with
# it), so several profiles still unpack first (bench/rank_scale.py --kernel-only
# measures one). Each index is read with the constant shifts of its place in a group of
# eight (``bits`` a compile-time constant, as in :mod:`~nag_spark.kernels.packing`), and
# the largest index read is returned for the range check; the weights are padded with
# ``2**bits`` zeros, so a bad index reads a zero before it is refused, never memory past
# the weights.


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _packed_sums(data, starts, bits, width, offsets, flat_weights, out):
    hi = np.uint32(0)
    groups = width // 8
    for i in range(starts.shape[0]):
        base = starts[i]
        wide = wide_row(data, base, width, bits)
        total = 0.0
        for g in range(groups):
            at = base + g * bits
            for t in range(8):
                idx = index_at(data, at, t * bits, bits, wide)
                hi = max(hi, idx)
                total += flat_weights[offsets[8 * g + t] + idx]
        for j in range(8 * groups, width):
            idx = index_at(data, base, j * bits, bits, wide)
            hi = max(hi, idx)
            total += flat_weights[offsets[j] + idx]
        out[i] = total
    return hi


@numba.njit(cache=True, nogil=True)
def _packed_sums_constant(data, starts, bits, width, offsets, flat_weights, out):
    return _packed_sums(data, starts, numba.literally(bits), width, offsets, flat_weights, out)


_PACKED_BY_BITS: dict = {}


def _range_error(lo: int, hi: int, n_neurons: int) -> InputError:
    return InputError(
        f"NAG indices must lie in [0, {n_neurons}) (the target's neuron count); "
        f"found [{lo}, {hi}]: pool and target features disagree"
    )


def _padded(weights: np.ndarray, bits: int) -> np.ndarray:
    """``weights`` (rows along axis 0) followed by ``2**bits`` rows of zeros."""
    pad = np.zeros((1 << bits,) + weights.shape[1:], weights.dtype)
    return np.ascontiguousarray(np.concatenate([weights, pad]))


def _checked(nags, width: int, n_neurons: int) -> np.ndarray:
    """``nags`` as an integer ``(D, width)`` array with every index in ``[0, n_neurons)``."""
    nags = np.asarray(nags)
    if nags.ndim != 2 or nags.shape[1] != width:
        raise InputError(f"NAG rows must have L*K = {width} indices; got shape {nags.shape}")
    if nags.dtype.kind not in "iu":
        raise InputError(f"NAG indices must be integers; got dtype {nags.dtype}")
    if nags.shape[0]:
        lo = 0 if nags.dtype.kind == "u" else int(nags.min())
        hi = int(nags.max())
        if lo < 0 or hi >= n_neurons:
            raise _range_error(lo, hi, n_neurons)
    return nags


class ProfileScorer:
    """Scores ``(D, L*K)`` NAG arrays against one profile.

    Parameters
    ----------
    profile : TargetProfile
        The target profile; its ``layers`` select the columns that are scored.

    Examples
    --------
    >>> import numpy as np
    >>> from nag_spark.kernels.profile import TargetProfile
    >>> p = TargetProfile.from_nags(np.array([[0, 1, 2, 1]]), 2, 2, 3)
    >>> ProfileScorer(p).distance(np.array([[0, 1, 2, 1], [2, 0, 0, 1]])).tolist()
    [0.0, 0.5]
    """

    def __init__(self, profile: TargetProfile):
        self.profile = profile
        k, n = profile.top_k, profile.n_neurons
        layers = np.asarray(profile.layers, dtype=np.int64)
        self.width = profile.num_layers * k
        # Columns of the layer-major NAG that belong to the chosen layers, and where each
        # column's layer starts in the flat weight vector.
        self.columns = (layers[:, None] * k + np.arange(k)[None, :]).ravel()
        self._all_columns = len(layers) == profile.num_layers
        self.offsets = np.repeat(layers * n, k)
        self.flat_weights = np.ascontiguousarray(profile.weights, dtype=np.float64).ravel()
        self.n_layers = len(layers)
        self.n_neurons = n

    def similarity(self, nags: np.ndarray) -> np.ndarray:
        """Similarity of each row of ``nags`` (shape ``(D, L*K)``) to the profile."""
        return self._similarity(_checked(nags, self.width, self.n_neurons))

    def _similarity(self, nags: np.ndarray) -> np.ndarray:
        out = np.empty(nags.shape[0], dtype=np.float64)
        if nags.shape[0] == 0:
            return out
        if not self._all_columns:
            nags = nags[:, self.columns]
        _gather_sums(np.ascontiguousarray(nags), self.offsets, self.flat_weights, out)
        out /= self.n_layers
        return out

    def distance(self, nags: np.ndarray) -> np.ndarray:
        """``nag_distance = 1 - similarity`` of each row."""
        return 1.0 - self.similarity(nags)


class ProfileSetScorer:
    """Scores ``(D, L*K)`` NAG arrays against several profiles at once: one range check,
    and one pass over the rows for every four profiles that score the same columns
    (:func:`_gather_sums_4`). Each distance equals its :class:`ProfileScorer`'s, bit
    for bit.

    Examples
    --------
    >>> import numpy as np
    >>> from nag_spark.kernels.profile import TargetProfile
    >>> a = TargetProfile.from_nags(np.array([[0, 1, 2, 1]]), 2, 2, 3)
    >>> b = TargetProfile.from_nags(np.array([[2, 2, 0, 0]]), 2, 2, 3)
    >>> [d.tolist() for d in ProfileSetScorer([a, b]).distances(np.array([[0, 1, 2, 1]]))]
    [[0.0], [1.0]]
    """

    def __init__(self, profiles):
        self.scorers = [ProfileScorer(p) for p in profiles]
        first = self.scorers[0]
        self.width = first.width
        if any(s.width != self.width for s in self.scorers):
            raise InputError("profiles scored together must have the same L*K")
        self.n_neurons = min(s.n_neurons for s in self.scorers)
        shared = all(s.n_neurons == first.n_neurons and np.array_equal(s.columns, first.columns)
                     for s in self.scorers)
        # Groups of four profiles as (L*N, 4) arrays, the weights of one neuron side by
        # side; the last group padded with zero weights (its extra sums are dropped).
        self.groups = []
        if shared and len(self.scorers) > 1:
            flat = [s.flat_weights for s in self.scorers]
            flat += [np.zeros_like(flat[0])] * (-len(flat) % 4)
            self.groups = [np.ascontiguousarray(np.stack(flat[g:g + 4], axis=1))
                           for g in range(0, len(flat), 4)]
        self._padded: dict[int, np.ndarray] = {}  # bits -> one profile's weights padded for them

    def distances(self, nags: np.ndarray) -> list[np.ndarray]:
        """``nag_distance`` of each row of ``nags`` to each profile, in profile order."""
        nags = _checked(nags, self.width, self.n_neurons)
        if not self.groups:
            return [1.0 - s._similarity(nags) for s in self.scorers]
        first = self.scorers[0]
        out = np.empty((4 * len(self.groups), nags.shape[0]), np.float64)
        if nags.shape[0]:
            cols = np.ascontiguousarray(nags if first._all_columns else nags[:, first.columns])
            for g, stacked in enumerate(self.groups):
                _gather_sums_4(cols, first.offsets, stacked, out[4 * g:4 * g + 4])
            out /= first.n_layers
        return list(1.0 - out[:len(self.scorers)])

    def scores_packed(self, bits: int) -> bool:
        """Whether :meth:`distances_packed` scores rows of ``bits``-bit indices: one
        profile, scoring every column of every layer (rows of ``L*K`` indices, all used)."""
        return (bits <= MAX_CONSTANT_BITS and len(self.scorers) == 1
                and self.scorers[0]._all_columns)

    def distances_packed(self, data: np.ndarray, starts: np.ndarray, bits: int) -> list[np.ndarray]:
        """:meth:`distances` of the packed rows beginning at ``data[starts[i]]``
        (:mod:`~nag_spark.kernels.packing`, rows of ``L*K`` indices; ``scores_packed(bits)``
        must hold), read and scored in one pass: the same distances, bit for bit."""
        scorer = self.scorers[0]
        n = len(starts)
        padded = self._padded.get(bits)
        if padded is None:
            padded = self._padded[bits] = _padded(scorer.flat_weights, bits)
        out = np.empty(n, np.float64)
        args = (np.ascontiguousarray(data, np.uint8), np.ascontiguousarray(starts, np.int64),
                bits, self.width, scorer.offsets, padded, out)
        hi = int(call_constant_bits(_packed_sums_constant, _PACKED_BY_BITS, args, 2))
        if n and hi >= self.n_neurons:
            raise _range_error(0, hi, self.n_neurons)
        out /= scorer.n_layers
        return [1.0 - out]
