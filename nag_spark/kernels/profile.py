"""The target profile of DESIGN.md §1: per-layer neuron weights built from target NAGs.

A profile is a dense ``(L, N)`` float64 array: row ``l`` holds ``w_l[n]``, the normalised
(count ** power) of neuron ``n`` across the target NAGs in layer ``l``. Dense (rather than a
dict per layer, as in the paper's release) so that scoring a document is one gather and a
sum. Layers left out of a layer subset keep all-zero rows and are skipped by the scorer.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np

from ..errors import InputError

LayerSpec = Union[str, Sequence[int]]


def resolve_layers(spec: LayerSpec, num_layers: int) -> tuple[int, ...]:
    """Turn a layer subset (``all``, ``first``, ``last``, ``"0,5,9"`` or ints) into indices.

    Parameters
    ----------
    spec : str or sequence of int
        The subset as a user writes it.
    num_layers : int
        L of the features.

    Returns
    -------
    tuple of int
        Sorted, unique layer indices in ``[0, num_layers)``.

    Examples
    --------
    >>> resolve_layers("last", 28)
    (27,)
    >>> resolve_layers("3,1", 28)
    (1, 3)
    """
    if num_layers <= 0:
        raise InputError(f"num_layers must be positive, got {num_layers}")
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in ("", "all"):
            return tuple(range(num_layers))
        if text == "first":
            return (0,)
        if text == "last":
            return (num_layers - 1,)
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise InputError(
                f"--layers {spec!r}: expected all, first, last or a comma list of layer indices"
            ) from None
    else:
        values = [int(v) for v in spec]
    if not values:
        raise InputError(f"--layers {spec!r} selects no layer")
    bad = [v for v in values if not 0 <= v < num_layers]
    if bad:
        raise InputError(
            f"--layers {spec!r}: layer index {bad[0]} out of range; the features have "
            f"{num_layers} layers (0..{num_layers - 1})"
        )
    return tuple(sorted(set(values)))


def layers_label(layers: Sequence[int], num_layers: int) -> str:
    """A short stable name for a layer subset (``all``, ``last``, or ``0,5,9``)."""
    layers = tuple(layers)
    if layers == tuple(range(num_layers)):
        return "all"
    if layers == (num_layers - 1,) and num_layers > 1:
        return "last"
    if layers == (0,) and num_layers > 1:
        return "first"
    return ",".join(str(v) for v in layers)


@dataclass(frozen=True, eq=False)
class TargetProfile:
    """Per-layer neuron weights of one target.

    Attributes
    ----------
    weights : ndarray, shape (L, N), float64
        ``weights[l, n] = w_l[n]``; rows of layers outside ``layers`` are zero.
    layers : tuple of int
        Layers used for scoring; similarity is the mean over these layers.
    top_k : int
        K, indices per layer in a NAG.
    power : float
        Exponent applied to the counts before normalising.
    n_targets : int
        Number of target NAGs the profile was built from.
    """

    weights: np.ndarray
    layers: tuple[int, ...]
    top_k: int
    power: float = 1.0
    n_targets: int = 0
    _digest: list = field(default_factory=list, repr=False)

    @property
    def num_layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.weights.shape[1])

    @classmethod
    def from_nags(
        cls,
        nags: np.ndarray,
        num_layers: int,
        top_k: int,
        n_neurons: int,
        layers: LayerSpec = "all",
        power: float = 1.0,
    ) -> "TargetProfile":
        """Build the profile from target NAGs.

        Parameters
        ----------
        nags : ndarray, shape (T, L*K), integer
            Target NAGs, layer-major.
        num_layers, top_k, n_neurons : int
            L, K and N of the features.
        layers : str or sequence of int
            Layer subset (see :func:`resolve_layers`).
        power : float
            Counts are raised to this power before normalising (paper default 1).

        Examples
        --------
        >>> p = TargetProfile.from_nags(np.array([[0, 1, 2, 1]]), 2, 2, 3)
        >>> p.weights.tolist()
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]
        """
        nags = np.asarray(nags)
        if nags.ndim != 2 or nags.shape[1] != num_layers * top_k:
            raise InputError(
                f"target NAGs must have shape (n, L*K) = (n, {num_layers * top_k}); "
                f"got {nags.shape}"
            )
        if nags.shape[0] == 0:
            raise InputError("the target has no rows: cannot build a profile")
        if not np.isfinite(power) or power <= 0:
            raise InputError(f"--power must be a positive number, got {power}")
        if nags.min() < 0 or nags.max() >= n_neurons:
            raise InputError(
                f"target NAG indices must lie in [0, {n_neurons}); found "
                f"[{int(nags.min())}, {int(nags.max())}]"
            )
        chosen = resolve_layers(layers, num_layers)
        # One bincount over (layer, neuron) pairs counts every layer at once.
        layer_of_col = np.repeat(np.arange(num_layers, dtype=np.int64), top_k)
        flat = (layer_of_col[None, :] * n_neurons + nags.astype(np.int64)).ravel()
        counts = np.bincount(flat, minlength=num_layers * n_neurons).astype(np.float64)
        counts = counts.reshape(num_layers, n_neurons)
        if power != 1.0:
            counts = np.power(counts, power)
        weights = np.zeros_like(counts)
        totals = counts[list(chosen)].sum(axis=1, keepdims=True)
        weights[list(chosen)] = counts[list(chosen)] / totals
        return cls(weights, chosen, int(top_k), float(power), int(nags.shape[0]))

    def digest(self) -> str:
        """A content digest (weights, layers, K, power): names the profile in tables and runs."""
        if not self._digest:
            h = hashlib.sha256()
            h.update(np.ascontiguousarray(self.weights, dtype="<f8").tobytes())
            h.update(repr((self.weights.shape, self.layers, self.top_k, self.power)).encode())
            self._digest.append(h.hexdigest()[:16])
        return self._digest[0]

    def save(self, path: str | os.PathLike) -> str:
        """Write the profile to ``path`` (``.npz``); returns the path."""
        path = os.fspath(path)
        with open(path, "wb") as fh:  # a file handle keeps numpy from appending ".npz"
            np.savez(
                fh, weights=self.weights, layers=np.asarray(self.layers, dtype=np.int64),
                top_k=np.int64(self.top_k), power=np.float64(self.power),
                n_targets=np.int64(self.n_targets),
            )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TargetProfile":
        """Read a profile written by :meth:`save`."""
        with np.load(os.fspath(path)) as data:
            return cls(
                np.array(data["weights"], dtype=np.float64),
                tuple(int(v) for v in data["layers"]),
                int(data["top_k"]), float(data["power"]), int(data["n_targets"]),
            )
