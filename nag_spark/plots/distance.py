"""Figures of NAG distance distributions (``stats/distance_hist.json`` of a rank run).

A histogram dict is ``{"edges": [B+1 floats], "counts": {"<dataset>": [B ints]},
"boundary": {"<target>": float}}``: the whole pool, binned once on the executors, so a
figure never needs the pool on the driver.
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from ._style import OTHER, cap_categories, colours, new_figure, save, short

_LINESTYLES = ["--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]


def _edges_counts(hist: Mapping) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        edges = np.asarray(hist["edges"], dtype=np.float64)
        counts = {str(k): np.asarray(v, dtype=np.float64) for k, v in hist["counts"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError("a distance histogram needs 'edges' and 'counts' {dataset: [...]}") from exc
    for name, c in counts.items():
        if c.shape != (len(edges) - 1,):
            raise ValueError(
                f"distance histogram: counts of {name!r} have {c.size} bins, edges give {len(edges) - 1}"
            )
    return edges, counts


def _x_label(hists) -> str:
    """Axis label from the histograms' ``key`` (quality-blend runs bin ``combined_score``)."""
    keys = {h.get("key", "nag_distance") for h in hists}
    if keys == {"combined_score"}:
        return "combined score (normalised distance + quality); lower = kept first"
    if keys == {"nag_distance"}:
        return "NAG distance (1 − similarity to the target profile); lower = closer"
    return "NAG distance or combined score (per run); lower = kept first"


def _boundaries(boundary, hist: Mapping) -> dict[str, float]:
    if boundary is None:
        boundary = hist.get("boundary") or {}
    if isinstance(boundary, (int, float)):
        return {"selection": float(boundary)}
    return {str(k): float(v) for k, v in boundary.items() if v is not None}


def plot_distance_histogram(
    hist: Mapping,
    boundary=None,
    path: str | os.PathLike = "distance_hist.png",
    title: str = "NAG distance of the pool, by dataset",
    max_datasets: int = 12,
    log_y: bool = False,
) -> str:
    """Stacked histogram of the pool's distances by dataset, with the selection boundary.

    Parameters
    ----------
    hist : dict
        ``stats/distance_hist.json`` content (see the module docstring).
    boundary : float or dict of target -> float, optional
        The last distance kept by each target's selection; ``None`` uses ``hist["boundary"]``.
    path : path-like
        Where the PNG goes.
    title : str
        Figure title.
    max_datasets : int
        Datasets beyond the largest ``max_datasets - 1`` are stacked as ``other``.
    log_y : bool
        Logarithmic count axis (for pools where one source dwarfs the rest).

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> hist = {"edges": [0, .5, 1], "counts": {"web": [3, 1], "wiki": [1, 2]}}
    >>> plot_distance_histogram(hist, 0.5, "/tmp/h.png")   # doctest: +SKIP
    '/tmp/h.png'
    """
    edges, counts = _edges_counts(hist)
    totals = {k: float(v.sum()) for k, v in counts.items()}
    keep = cap_categories(totals, max_datasets)
    names = keep + ([OTHER] if len(keep) < len(counts) else [])
    stacked = {k: counts[k] for k in keep}
    if OTHER in names:
        stacked[OTHER] = sum((v for k, v in counts.items() if k not in keep), np.zeros(len(edges) - 1))

    fig = new_figure(10.0, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    widths = np.diff(edges)
    bottom = np.zeros(len(edges) - 1)
    cols = colours(len(names))
    for name, col in zip(names, cols):
        c = stacked[name]
        ax.bar(edges[:-1], c, width=widths, bottom=bottom, align="edge", color=col,
               label=f"{short(name)} ({int(c.sum()):,})", linewidth=0)
        bottom += c
    for i, (target, value) in enumerate(sorted(_boundaries(boundary, hist).items())):
        ax.axvline(value, color="black", lw=1.4, ls=_LINESTYLES[i % len(_LINESTYLES)],
                   label=f"boundary {short(target, 20)} = {value:.4f}")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(_x_label([hist]))
    ax.set_ylabel("documents")
    ax.set_title(title)
    ax.set_xlim(edges[0], edges[-1])
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title="dataset (documents)", title_fontsize=8)
    return save(fig, path)


def plot_distance_overlay(
    hists: Mapping[str, Mapping],
    path: str | os.PathLike,
    boundaries: Mapping[str, Mapping[str, float] | float | None] | None = None,
    title: str = "NAG distance distributions of the compared runs",
) -> str:
    """Overlaid distance distributions of several runs, each with its selection boundaries.

    Each run's histogram is summed over datasets and normalised to a density, so runs
    binned differently or over pools of different sizes share one axis. A run's boundary
    lines take the run's colour; line style tells the targets apart.

    Parameters
    ----------
    hists : dict of run label -> histogram dict
        One ``stats/distance_hist.json`` per run.
    path : path-like
        Where the PNG goes.
    boundaries : dict of run label -> (dict of target -> float | float), optional
        Defaults to each histogram's own ``boundary``.
    title : str
        Figure title.
    """
    if not hists:
        raise ValueError("plot_distance_overlay needs at least one histogram")
    fig = new_figure(10.0, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    cols = colours(len(hists))
    for (label, hist), col in zip(hists.items(), cols):
        edges, counts = _edges_counts(hist)
        total = sum(counts.values(), np.zeros(len(edges) - 1))
        area = float((total * np.diff(edges)).sum()) or 1.0
        density = total / area
        ax.stairs(density, edges, color=col, lw=1.6, label=f"{short(label, 36)}")
        ax.stairs(density, edges, color=col, alpha=0.12, fill=True)
        bnd = _boundaries((boundaries or {}).get(label), hist)
        for i, (target, value) in enumerate(sorted(bnd.items())):
            ax.axvline(value, color=col, lw=1.3, ls=_LINESTYLES[i % len(_LINESTYLES)],
                       label=f"  boundary {short(target, 20)} = {value:.4f}")
    ax.set_xlabel(_x_label(hists.values()))
    ax.set_ylabel("density of pool documents")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title="run / selection boundary", title_fontsize=8)
    return save(fig, path)
