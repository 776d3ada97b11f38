"""Figures of a target profile: the weights ``w_l[n]`` of shape (L layers, N neurons)."""
from __future__ import annotations

import os

import numpy as np

from ._style import new_figure, save


def _check_weights(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(f"profile weights must be a non-empty (L, N) array, got shape {w.shape}")
    return w


def plot_profile_heatmap(
    weights,
    path: str | os.PathLike,
    top_n: int = 20,
    title: str = "Target profile: strongest neurons per layer",
    layers=None,
) -> str:
    """Heatmap of layers × each layer's ``top_n`` heaviest neurons.

    Neuron ``n`` of layer 3 and neuron ``n`` of layer 4 are unrelated units, so columns
    are ranks within a layer (1 = heaviest), not neuron indices; the index of each neuron
    is written in its cell when the cells are large enough to hold it.

    Parameters
    ----------
    weights : array of shape (L, N)
        Profile weights; each row sums to 1 (a layer with no target NAG sums to 0).
    path : path-like
        Where the PNG goes.
    top_n : int
        How many neurons per layer to show.
    title : str
        Figure title.
    layers : sequence of int, optional
        Layer numbers of the rows (default 0..L-1); for a profile built on a layer subset.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> w = np.random.default_rng(0).dirichlet(np.ones(64), size=4)
    >>> plot_profile_heatmap(w, "/tmp/heat.png", top_n=8)   # doctest: +SKIP
    '/tmp/heat.png'
    """
    w = _check_weights(weights)
    n_layers, n_neurons = w.shape
    top_n = int(max(1, min(top_n, n_neurons)))
    layer_ids = list(layers) if layers is not None else list(range(n_layers))
    # argsort on the negated weights, stable, so equal weights keep the lower index first.
    order = np.argsort(-w, axis=1, kind="stable")[:, :top_n]
    vals = np.take_along_axis(w, order, axis=1)

    fig = new_figure(max(6.0, 0.42 * top_n + 2.5), max(3.5, 0.24 * n_layers + 1.6))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(vals, aspect="auto", cmap="viridis", interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax, pad=0.01)
    cbar.set_label("weight $w_l[n]$ (share of the layer)")
    ax.set_xlabel("neuron rank within layer (1 = heaviest); cell text = neuron index")
    ax.set_ylabel("layer")
    ax.set_title(title)
    ax.set_xticks(np.arange(top_n))
    ax.set_xticklabels([str(i + 1) for i in range(top_n)], fontsize=7)
    step = max(1, int(np.ceil(n_layers / 40)))
    ax.set_yticks(np.arange(0, n_layers, step))
    ax.set_yticklabels([str(layer_ids[i]) for i in range(0, n_layers, step)], fontsize=7)
    if top_n <= 30 and n_layers <= 48:
        # Text colour flips with the cell's brightness so every index stays legible.
        vmax = float(vals.max()) or 1.0
        fs = 5.5 if n_neurons >= 1000 else 6.5
        for i in range(n_layers):
            for j in range(top_n):
                dark = vals[i, j] < 0.6 * vmax
                ax.text(j, i, str(int(order[i, j])), ha="center", va="center", fontsize=fs,
                        color="white" if dark else "black", in_layout=False)
    return save(fig, path)


def profile_concentration(weights, ks=(1, 20, 100)) -> dict[str, np.ndarray]:
    """Per-layer concentration measures of a profile.

    Returns a dict with ``top<k>_share`` (share of the layer's weight held by its ``k``
    heaviest neurons) for each ``k`` and ``effective_neurons`` (``exp`` of the entropy of
    the layer's weights: 1 when one neuron holds all weight, N when weights are uniform).
    """
    w = _check_weights(weights)
    totals = w.sum(axis=1)
    safe = np.where(totals > 0, totals, 1.0)
    p = w / safe[:, None]
    sorted_p = -np.sort(-p, axis=1)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        k = int(min(k, w.shape[1]))
        out[f"top{k}_share"] = sorted_p[:, :k].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    out["effective_neurons"] = np.where(totals > 0, np.exp(ent), 0.0)
    return out


def plot_profile_concentration(
    weights,
    path: str | os.PathLike,
    ks=(1, 20, 100),
    title: str = "How concentrated the target profile is, per layer",
    layers=None,
) -> str:
    """Two panels per layer: weight share of the top-k neurons, and effective neuron count.

    A layer where few neurons hold most of the weight discriminates the target sharply;
    a flat layer adds little to the score. See :func:`profile_concentration`.

    Examples
    --------
    >>> w = np.random.default_rng(0).dirichlet(np.ones(64), size=4)
    >>> plot_profile_concentration(w, "/tmp/conc.png")   # doctest: +SKIP
    '/tmp/conc.png'
    """
    w = _check_weights(weights)
    n_layers, n_neurons = w.shape
    stats = profile_concentration(w, ks)
    x = np.asarray(list(layers) if layers is not None else range(n_layers))

    fig = new_figure(11.0, 4.0)
    ax1, ax2 = fig.subplots(1, 2)
    for key, vals in stats.items():
        if key.startswith("top"):
            k = key[3:].split("_")[0]
            ax1.plot(x, vals, marker="o", ms=3, label=f"top {k} neuron{'s' if k != '1' else ''}")
    ax1.set_ylim(0, 1.02)
    ax1.set_xlabel("layer")
    ax1.set_ylabel("share of the layer's weight")
    ax1.set_title("Weight held by the heaviest neurons")
    ax1.legend(loc="best", fontsize=8, frameon=False)
    ax1.grid(alpha=0.3)

    ax2.plot(x, stats["effective_neurons"], marker="o", ms=3, color="tab:purple")
    ax2.set_yscale("log")
    ax2.set_xlabel("layer")
    ax2.set_ylabel("effective number of neurons, exp(entropy)")
    ax2.set_title(f"Spread of the weight (of N = {n_neurons} neurons)")
    ax2.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    return save(fig, path)
