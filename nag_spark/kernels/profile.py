"""The target profile of DESIGN.md §1: per-layer neuron weights built from target NAGs.

A profile is a dense ``(L, N)`` float64 array: row ``l`` holds ``w_l[n]``, the normalised
(count ** power) of neuron ``n`` across the target NAGs in layer ``l``. Dense (rather than a
dict per layer, as in the paper's release) so that scoring a document is one gather and a
sum. Layers left out of a layer subset keep all-zero rows and are skipped by the scorer.

Weightings (``--profile-weighting``). Per layer ``l`` and neuron ``n``, with ``k`` the
indices per layer that are used (``--top-k``, default the features' K), ``T`` target NAGs
in which ``n`` appears ``c_t[n]`` times and ``P`` pool NAGs in which it appears ``c_p[n]``
times (the K indices of one layer's NAG are distinct, so these are document counts), each
weighting gives a raw weight ``s_l[n] >= 0``; the profile is
``w_l[n] = s_l[n] ** power / Σ_m s_l[m] ** power``:

* ``paper`` (default, DESIGN.md §1): ``s = c_t``. Needs no pool.
* ``log-ratio``: the smoothed per-layer neuron distributions of target and pool,
  ``q_t = (c_t + a) / (T·k + a·N)`` and ``q_p = (c_p + a) / (P·k + a·N)`` (``a`` =
  :data:`SMOOTHING`, Laplace), and ``s = max(0, ln q_t − ln q_p)`` where ``c_t > 0``, else 0:
  a neuron weighs in by how much more often the target uses it than the pool does, and a
  neuron the target never uses weighs nothing (smoothing alone would otherwise credit
  neurons absent from both when ``P > T``).
* ``tfidf``: ``s = (c_t / T) · max(0, ln(P / (1 + c_p)))``: the target's document
  frequency times the pool's inverse document frequency.

A neuron frequent in both target and pool (a generic one) gets a large paper weight and a
small contrastive one. A layer where no neuron is more frequent in the target than in the
pool has a zero row: it adds nothing to any similarity (still divided by the number of
scored layers, so distances stay in [0, 1]).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np

from ..errors import InputError

LayerSpec = Union[str, Sequence[int]]

# --profile-weighting values; the first is the default (the paper's profile).
PROFILE_WEIGHTINGS = ("paper", "log-ratio", "tfidf")
# Add-a smoothing of the log-ratio weighting's two distributions (Laplace).
SMOOTHING = 1.0


def check_weighting(name: str) -> str:
    """``name`` if it is a known profile weighting, else an InputError naming the option."""
    if name not in PROFILE_WEIGHTINGS:
        raise InputError(f"--profile-weighting {name!r}: expected one of "
                         f"{', '.join(PROFILE_WEIGHTINGS)}")
    return name


def needs_pool(weighting: str) -> bool:
    """Whether a weighting weighs target counts against pool counts."""
    return check_weighting(weighting) != "paper"


def check_top_k(k: int | None, stored_k: int) -> int:
    """The indices per layer to score: ``k`` (None: all ``stored_k`` of the features).

    NAGs are stored in impact order (largest impact first, :mod:`.reduce`), so the first
    ``k`` indices of a layer are the NAG that extraction at K = ``k`` would have stored.

    >>> check_top_k(None, 20), check_top_k(5, 20)
    (20, 5)
    """
    if k is None:
        return int(stored_k)
    if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= int(stored_k):
        raise InputError(f"--top-k {k}: must be an integer in [1, {stored_k}]; the features "
                         f"hold K = {stored_k} indices per layer (nag.top_k)")
    return int(k)


def nag_prefix(nags: np.ndarray, num_layers: int, stored_k: int, k: int) -> np.ndarray:
    """The first ``k`` of the ``stored_k`` indices of every layer: ``(D, L*k)``, layer-major
    (``nags`` itself, no copy, when ``k == stored_k``).

    >>> nag_prefix(np.array([[5, 6, 7, 1, 2, 3]]), 2, 3, 2).tolist()
    [[5, 6, 1, 2]]
    """
    if k == stored_k:
        return nags
    d = len(nags)
    return np.asarray(nags).reshape(d, num_layers, stored_k)[:, :, :k].reshape(d, num_layers * k)


def neuron_counts(nags: np.ndarray, num_layers: int, top_k: int, n_neurons: int) -> np.ndarray:
    """How often each neuron index appears in each layer of ``nags`` (shape ``(D, L*K)``):
    an ``(L, N)`` int64 array (one bincount over (layer, neuron) pairs).

    >>> neuron_counts(np.array([[0, 1, 2, 1], [0, 2, 2, 0]]), 2, 2, 3).tolist()
    [[2, 1, 1], [1, 1, 2]]
    """
    nags = np.asarray(nags)
    layer_of_col = np.repeat(np.arange(num_layers, dtype=np.int64), top_k)
    flat = (layer_of_col[None, :] * n_neurons + nags.astype(np.int64)).ravel()
    return np.bincount(flat, minlength=num_layers * n_neurons).reshape(num_layers, n_neurons)


@dataclass(frozen=True, eq=False)
class PoolFrequencies:
    """Per-layer neuron counts over the pool: what the contrastive weightings weigh against.

    Attributes
    ----------
    counts : ndarray, shape (L, N), int64
        ``counts[l, n]``: pool NAGs whose first ``top_k`` indices of layer ``l`` hold ``n``.
    n_docs : int
        P, the pool NAGs counted.
    top_k : int
        k, the indices per layer counted.
    """

    counts: np.ndarray
    n_docs: int
    top_k: int

    @classmethod
    def from_nags(cls, nags, num_layers: int, top_k: int, n_neurons: int) -> "PoolFrequencies":
        """Count ``nags`` (``(P, L*k)``) on one machine (the Spark job sums partitions)."""
        return cls(neuron_counts(nags, num_layers, top_k, n_neurons), int(len(nags)), int(top_k))


def contrastive_weights(target_counts: np.ndarray, n_target: int, pool: PoolFrequencies,
                        weighting: str, smoothing: float = SMOOTHING) -> np.ndarray:
    """Raw weights ``s_l[n]`` (before the power and normalisation) of a contrastive
    weighting; formulas in the module docstring.

    Examples
    --------
    One layer, K = 2, N = 4. Neuron 0 is in both target NAGs and in 3 of the 4 pool NAGs;
    neuron 2 is in one target NAG and no pool NAG:

    >>> pool = PoolFrequencies(np.array([[3, 2, 0, 3]]), n_docs=4, top_k=2)
    >>> s = contrastive_weights(np.array([[2, 1, 1, 0]]), 2, pool, "log-ratio")
    >>> np.round(s, 4).tolist()
    [[0.1178, 0.0, 1.0986, 0.0]]
    >>> np.round(contrastive_weights(np.array([[2, 1, 1, 0]]), 2, pool, "tfidf"), 4).tolist()
    [[0.0, 0.1438, 0.6931, 0.0]]
    """
    c_t = np.asarray(target_counts, dtype=np.float64)
    c_p = np.asarray(pool.counts, dtype=np.float64)
    if c_t.shape != c_p.shape:
        raise InputError(f"pool neuron counts have shape {c_p.shape}, the target's {c_t.shape}: "
                         "pool and target features disagree on L or N")
    if pool.n_docs <= 0:
        raise InputError(f"--profile-weighting {weighting}: the pool has no rows to weigh the "
                         "target's neurons against")
    if weighting == "log-ratio":
        n, k = c_t.shape[1], pool.top_k
        log_t = np.log((c_t + smoothing) / (n_target * k + smoothing * n))
        log_p = np.log((c_p + smoothing) / (pool.n_docs * k + smoothing * n))
        return np.where(c_t > 0, np.maximum(0.0, log_t - log_p), 0.0)
    if weighting == "tfidf":
        idf = np.maximum(0.0, np.log(pool.n_docs / (1.0 + c_p)))
        return (c_t / n_target) * idf
    raise InputError(f"--profile-weighting {weighting!r} weighs no pool: use log-ratio or tfidf")


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
    weighting : str
        How counts became weights (:data:`PROFILE_WEIGHTINGS`; module docstring).
    """

    weights: np.ndarray
    layers: tuple[int, ...]
    top_k: int
    power: float = 1.0
    n_targets: int = 0
    weighting: str = "paper"
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
        weighting: str = "paper",
        pool: PoolFrequencies | None = None,
    ) -> "TargetProfile":
        """Build the profile from target NAGs.

        Parameters
        ----------
        nags : ndarray, shape (T, L*K), integer
            Target NAGs, layer-major (already cut to their first k: :func:`nag_prefix`).
        num_layers, top_k, n_neurons : int
            L, K and N of ``nags``.
        layers : str or sequence of int
            Layer subset (see :func:`resolve_layers`).
        power : float
            Raw weights (the counts, for ``paper``) are raised to this power before
            normalising (paper default 1).
        weighting : str
            ``paper``, ``log-ratio`` or ``tfidf`` (module docstring).
        pool : PoolFrequencies, optional
            The pool's counts over the same first k indices; needed by the contrastive
            weightings.

        Examples
        --------
        >>> p = TargetProfile.from_nags(np.array([[0, 1, 2, 1]]), 2, 2, 3)
        >>> p.weights.tolist()
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]

        Neuron 0 is in every target NAG but also in 3 of 4 pool NAGs: the paper gives it the
        largest weight, the log-ratio a small one.

        >>> target = np.array([[0, 1], [0, 2]])
        >>> pool = PoolFrequencies.from_nags(np.array([[0, 3], [0, 3], [0, 1], [3, 1]]), 1, 2, 4)
        >>> TargetProfile.from_nags(target, 1, 2, 4).weights.tolist()
        [[0.5, 0.25, 0.25, 0.0]]
        >>> lr = TargetProfile.from_nags(target, 1, 2, 4, weighting="log-ratio", pool=pool)
        >>> np.round(lr.weights, 4).tolist()
        [[0.0968, 0.0, 0.9032, 0.0]]
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
        check_weighting(weighting)
        chosen = resolve_layers(layers, num_layers)
        # One bincount over (layer, neuron) pairs counts every layer at once.
        counts = neuron_counts(nags, num_layers, top_k, n_neurons)
        if weighting == "paper":
            # The paper's profile, computed exactly as before the weightings existed.
            counts = counts.astype(np.float64)
            if power != 1.0:
                counts = np.power(counts, power)
            weights = np.zeros_like(counts)
            totals = counts[list(chosen)].sum(axis=1, keepdims=True)
            weights[list(chosen)] = counts[list(chosen)] / totals
        else:
            weights = _contrastive_profile(counts, int(nags.shape[0]), pool, weighting,
                                           chosen, int(top_k), power)
        return cls(weights, chosen, int(top_k), float(power), int(nags.shape[0]), weighting)

    def digest(self) -> str:
        """A content digest (weights, layers, K, power): names the profile in tables and runs."""
        if not self._digest:
            h = hashlib.sha256()
            h.update(np.ascontiguousarray(self.weights, dtype="<f8").tobytes())
            named = (self.weights.shape, self.layers, self.top_k, self.power)
            if self.weighting != "paper":  # paper profiles keep the digests of earlier releases
                named += (self.weighting,)
            h.update(repr(named).encode())
            self._digest.append(h.hexdigest()[:16])
        return self._digest[0]

    def save(self, path: str | os.PathLike) -> str:
        """Write the profile to ``path`` (``.npz``); returns the path."""
        path = os.fspath(path)
        with open(path, "wb") as fh:  # a file handle keeps numpy from appending ".npz"
            np.savez(
                fh, weights=self.weights, layers=np.asarray(self.layers, dtype=np.int64),
                top_k=np.int64(self.top_k), power=np.float64(self.power),
                n_targets=np.int64(self.n_targets), weighting=np.str_(self.weighting),
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
                # Profiles saved before the weightings existed are the paper's.
                str(data["weighting"]) if "weighting" in data.files else "paper",
            )


def _contrastive_profile(counts: np.ndarray, n_target: int, pool: PoolFrequencies | None,
                         weighting: str, chosen: tuple[int, ...], top_k: int,
                         power: float) -> np.ndarray:
    """Normalised contrastive weights of the chosen layers (zero rows elsewhere)."""
    if pool is None or pool.top_k != top_k:
        raise InputError(f"--profile-weighting {weighting} weighs the target against the pool: "
                         "the pool's neuron counts are needed" if pool is None else
                         f"pool neuron counts were taken over {pool.top_k} indices per layer, "
                         f"the target's over {top_k}: both must use the same --top-k")
    raw = contrastive_weights(counts, n_target, pool, weighting)
    if power != 1.0:
        raw = np.power(raw, power)
    weights = np.zeros_like(raw)
    rows = list(chosen)
    totals = raw[rows].sum(axis=1, keepdims=True)  # 0: the layer keeps a zero row
    weights[rows] = np.divide(raw[rows], totals, out=np.zeros_like(raw[rows]), where=totals > 0)
    if not (totals > 0).any():
        raise InputError(f"--profile-weighting {weighting}: no neuron of the scored layers is more "
                         "frequent in the target than in the pool, so every document would tie; "
                         "use --profile-weighting paper")
    return weights
