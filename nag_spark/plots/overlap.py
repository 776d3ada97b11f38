"""Figure of pairwise overlap between selections (Jaccard on docids and on tokens)."""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from ._style import new_figure, save, short


def plot_jaccard(
    matrices: Mapping[str, np.ndarray],
    labels: Sequence[str],
    path: str | os.PathLike,
    title: str = "Overlap of the selections (Jaccard)",
) -> str:
    """One heatmap panel per matrix (e.g. ``{"docids": J1, "tokens": J2}``), values written in cells.

    Parameters
    ----------
    matrices : dict of name -> (R, R) array
        Symmetric matrices with values in [0, 1].
    labels : sequence of str
        The R run labels, in matrix order.
    path : path-like
        Where the PNG goes.
    title : str
        Figure title.
    """
    r = len(labels)
    side = max(3.2, 0.55 * r + 2.2)
    fig = new_figure(side * len(matrices) + 0.8, side)
    axes = np.atleast_1d(fig.subplots(1, len(matrices)))
    im = None
    ticks = [short(lab, 22) for lab in labels]
    for ax, (name, mat) in zip(axes, matrices.items()):
        m = np.asarray(mat, dtype=float)
        if m.shape != (r, r):
            raise ValueError(f"Jaccard matrix {name!r} has shape {m.shape}, expected ({r}, {r})")
        im = ax.imshow(m, vmin=0, vmax=1, cmap="Blues")
        ax.set_xticks(range(r))
        ax.set_yticks(range(r))
        ax.set_xticklabels(ticks, rotation=40, ha="right", fontsize=8)
        ax.set_yticklabels(ticks, fontsize=8)
        ax.set_title(f"Jaccard on {name}")
        if r <= 15:
            for i in range(r):
                for j in range(r):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if m[i, j] > 0.6 else "black")
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="|A ∩ B| / |A ∪ B|")
    fig.suptitle(title)
    return save(fig, path)
