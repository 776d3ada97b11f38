"""One "dashboard" image from several figures, for a README or a report preview."""
from __future__ import annotations

import os
from typing import Sequence

import matplotlib.image as mpimg
import matplotlib.pyplot as plt

from ._style import save


def plot_montage(columns: Sequence[Sequence[str | os.PathLike]], path: str | os.PathLike,
                 title: str | None = None, width: float = 18.0) -> str:
    """Lay existing PNGs out in columns, each column a stack of images drawn as they are.

    Column widths follow the images' pixel widths, so every tile keeps its own scale and
    aspect ratio (nothing squashed, no text resampled smaller than its neighbours').

    Parameters
    ----------
    columns : sequence of sequences of paths
        ``[[a, b], [c]]`` puts ``a`` above ``b`` on the left and ``c`` on the right.
    path : path-like
        Where the PNG goes.
    title : str, optional
        Title across the top.
    width : float
        Figure width in inches.
    """
    cols = [[mpimg.imread(str(p)) for p in col] for col in columns if col]
    if not cols:
        raise ValueError("plot_montage needs at least one image")
    px_w = [max(img.shape[1] for img in col) for col in cols]
    px_h = [sum(img.shape[0] * max_w / img.shape[1] for img in col) for col, max_w in zip(cols, px_w)]
    scale = width / sum(px_w)  # inches per pixel
    title_h = 0.6 if title else 0.0
    height = max(px_h) * scale + title_h
    fig = plt.figure(figsize=(width, height), dpi=110)
    x = 0.0
    for col, col_w in zip(cols, px_w):
        y = height - title_h
        for img in col:
            h = img.shape[0] * col_w / img.shape[1] * scale
            w = col_w * scale
            ax = fig.add_axes((x / width, (y - h) / height, w / width, h / height))
            ax.imshow(img, interpolation="antialiased")
            ax.set_axis_off()
            y -= h
        x += col_w * scale
    if title:
        fig.suptitle(title, fontsize=15, y=1 - 0.15 / height)
    return save(fig, path)
