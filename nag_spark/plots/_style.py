"""Shared figure plumbing: the Agg backend, saving, colours and capping many categories.

Every plot function here is pure: arrays or dicts in, a PNG path out. They never touch
Spark or MLflow, so jobs, notebooks and tests call them the same way on any machine,
including a driver with no display.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

# A cluster driver has no display; pick the file-only backend before pyplot is imported.
matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402

OTHER = "other"


def new_figure(width: float, height: float):
    """A figure in the house style (constrained layout keeps outside legends in frame)."""
    return plt.figure(figsize=(width, height), dpi=110, layout="constrained")


def save(fig, path: str | os.PathLike) -> str:
    """Write ``fig`` as PNG to ``path`` (creating folders), close it and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    plt.close(fig)
    return str(path)


def colours(n: int) -> list:
    """``n`` distinguishable colours (tab10, then tab20, then a sampled colormap).

    Greys are left out: grey is the colour of ``other`` and of the pool in bar charts.
    """
    if n <= 9:
        cmap = plt.get_cmap("tab10")
        return [cmap(i) for i in range(10) if i != 7][:n]
    if n <= 18:
        cmap = plt.get_cmap("tab20")
        return [cmap(i) for i in range(20) if i not in (14, 15)][:n]
    cmap = plt.get_cmap("nipy_spectral")
    return [cmap(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


def cap_categories(totals: Mapping[str, float], max_items: int) -> list[str]:
    """The ``max_items`` largest keys of ``totals`` (ties by name), largest first.

    Callers fold the rest into an ``other`` bucket: more than ~15 legend entries or bar
    labels can no longer be told apart, and a real pool has hundreds of sources.
    """
    ordered = sorted(totals, key=lambda k: (-float(totals[k]), str(k)))
    if len(ordered) <= max_items:
        return ordered
    return ordered[: max(1, max_items - 1)]


def fold_other(values: Mapping[str, float], keep: Sequence[str]) -> dict[str, float]:
    """``values`` restricted to ``keep`` plus an ``other`` bucket holding the remainder."""
    out = {k: float(values.get(k, 0.0)) for k in keep}
    rest = sum(float(v) for k, v in values.items() if k not in out)
    if rest > 0 or any(k not in out for k in values):
        out[OTHER] = out.get(OTHER, 0.0) + rest
    return out


def short(label: str, width: int = 28) -> str:
    """Shorten a long label for an axis tick so ticks never run into each other."""
    label = str(label)
    return label if len(label) <= width else label[: width - 1] + "…"


def strong_colours(n: int) -> list:
    """``n`` dark, saturated colours for the few series that must stand out (targets)."""
    cmap = plt.get_cmap("Dark2")
    return [cmap(i % 8) for i in range(n)]
