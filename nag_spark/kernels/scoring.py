"""Scoring pool NAGs against a :class:`~nag_spark.kernels.profile.TargetProfile`.

``similarity = (1/|layers|) Σ_{l in layers} Σ_k w_l[idx[l, k]]`` and
``nag_distance = 1 - similarity`` (DESIGN.md §1). The profile is flattened once to a vector
of ``L*N`` weights and every index is shifted by ``l*N``, so a batch of D documents is
scored with one gather of ``D × |layers|·K`` floats and one row sum: no Python loop per
document or per layer. Batches are cut into cache-sized chunks because the gathered
float64 block is 4x the size of the int16 indices it comes from.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .profile import TargetProfile

# 512 docs x 560 float64 = 2.3 MB: the gathered block stays in cache before it is summed
# (measured: 512 beat 128..1024 rows on this machine, see bench/rank_scale.py).
_CHUNK_ROWS = 512


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
        # Columns of the layer-major NAG that belong to the chosen layers.
        self.columns = (layers[:, None] * k + np.arange(k)[None, :]).ravel()
        self._all_columns = len(layers) == profile.num_layers
        index_dtype = np.int32 if profile.num_layers * n < 2**31 else np.int64
        self.offsets = np.repeat(layers * n, k).astype(index_dtype)
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
        out = np.empty(nags.shape[0], dtype=np.float64)
        if nags.shape[0] == 0:
            return out
        lo, hi = nags.min(), nags.max()
        if lo < 0 or hi >= self.n_neurons:
            raise InputError(
                f"NAG indices must lie in [0, {self.n_neurons}) (the target's neuron count); "
                f"found [{int(lo)}, {int(hi)}]: pool and target features disagree"
            )
        idx_buf = gathered = None
        for start in range(0, nags.shape[0], _CHUNK_ROWS):
            block = nags[start:start + _CHUNK_ROWS]
            if not self._all_columns:
                block = block[:, self.columns]
            if idx_buf is None or idx_buf.shape != block.shape:
                idx_buf = np.empty(block.shape, dtype=self.offsets.dtype)
                gathered = np.empty(block.shape, dtype=np.float64)
            np.add(block, self.offsets, out=idx_buf, casting="unsafe")
            # mode="clip" skips numpy's per-element bounds check; the range was checked above.
            self.flat_weights.take(idx_buf, mode="clip", out=gathered)
            # Row sums of a C-contiguous block: the same summation order for a document
            # whatever batch it arrives in, so scores do not depend on the partitioning.
            np.sum(gathered, axis=1, out=out[start:start + len(block)])
        out /= self.n_layers
        return out

    def distance(self, nags: np.ndarray) -> np.ndarray:
        """``nag_distance = 1 - similarity`` of each row."""
        return 1.0 - self.similarity(nags)


def nag_distance(nags: np.ndarray, profile: TargetProfile) -> np.ndarray:
    """Convenience wrapper: ``ProfileScorer(profile).distance(nags)``."""
    return ProfileScorer(profile).distance(nags)
