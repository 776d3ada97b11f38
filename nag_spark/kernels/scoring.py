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
        nags = np.asarray(nags)
        if nags.ndim != 2 or nags.shape[1] != self.width:
            raise InputError(
                f"NAG rows must have L*K = {self.width} indices; got shape {nags.shape}"
            )
        if nags.dtype.kind not in "iu":
            raise InputError(f"NAG indices must be integers; got dtype {nags.dtype}")
        out = np.empty(nags.shape[0], dtype=np.float64)
        if nags.shape[0] == 0:
            return out
        lo, hi = int(nags.min()), int(nags.max())
        if lo < 0 or hi >= self.n_neurons:
            raise InputError(
                f"NAG indices must lie in [0, {self.n_neurons}) (the target's neuron count); "
                f"found [{lo}, {hi}]: pool and target features disagree"
            )
        if not self._all_columns:
            nags = nags[:, self.columns]
        _gather_sums(np.ascontiguousarray(nags), self.offsets, self.flat_weights, out)
        out /= self.n_layers
        return out

    def distance(self, nags: np.ndarray) -> np.ndarray:
        """``nag_distance = 1 - similarity`` of each row."""
        return 1.0 - self.similarity(nags)
