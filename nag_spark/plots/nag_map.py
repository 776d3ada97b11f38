"""Figure of a 2-D map of NAGs (coordinates from :mod:`nag_spark.analysis.nag_map`)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ._style import OTHER, cap_categories, colours, new_figure, save, short, strong_colours


def plot_nag_map(
    coords,
    datasets: Sequence[str],
    path: str | os.PathLike,
    is_target: Sequence[bool] | None = None,
    title: str = "2-D map of NAGs",
    max_labels: int = 18,
    method: str = "t-SNE",
) -> str:
    """Scatter of 2-D NAG coordinates, coloured by dataset; targets drawn as triangles.

    Parameters
    ----------
    coords : array of shape (n, 2)
        Embedded points.
    datasets : sequence of str
        Dataset label of each point.
    path : path-like
        Where the PNG goes.
    is_target : sequence of bool, optional
        Marks target examples (triangles, outlined) against pool documents (dots).
    title : str
        Figure title.
    max_labels : int
        Colours for the largest datasets; the rest are grey ``other``.
    method : str
        Name of the embedding, for the axis labels.
    """
    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(datasets):
        raise ValueError(f"coords must be (n, 2) with one dataset per row; got {xy.shape}, {len(datasets)}")
    ds = np.asarray([str(d) for d in datasets], dtype=object)
    tgt = np.zeros(len(ds), bool) if is_target is None else np.asarray(is_target, bool)
    names, counts = np.unique(ds, return_counts=True)
    keep = cap_categories(dict(zip(names, counts)), max_labels)
    # Pool datasets first then targets, so the legend reads as two groups.
    keep.sort(key=lambda k: (bool(tgt[ds == k].any()), k))
    fig = new_figure(11.0, 7.0)
    ax = fig.add_subplot(1, 1, 1)
    rest = ~np.isin(ds, keep)
    if rest.any():
        ax.scatter(xy[rest, 0], xy[rest, 1], s=6, c="0.75", marker="o", linewidths=0,
                   label=f"{OTHER} ({int(rest.sum())})")
    # Pool datasets and targets draw from separate palettes, so a target never shares a
    # pool dataset's colour; triangles with a black edge make targets stand out further.
    n_tgt = sum(bool(tgt[ds == k].any()) for k in keep)
    palette = colours(len(keep) - n_tgt) + strong_colours(n_tgt)
    for name, col in zip(keep, palette):
        m = ds == name
        target = bool(tgt[m].any())
        ax.scatter(xy[m, 0], xy[m, 1], s=22 if target else 9, color=col,
                   marker="^" if target else "o", edgecolors="black" if target else "none",
                   linewidths=0.3, alpha=0.85,
                   label=f"{'target: ' if target else ''}{short(name, 26)} ({int(m.sum())})")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              markerscale=1.4, title="dataset (points)", title_fontsize=8)
    return save(fig, path)
