"""Figures of selection composition: share of tokens by ``dataset``, selections vs pool."""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from ._style import OTHER, cap_categories, colours, fold_other, new_figure, save, short


def token_shares(tokens: Mapping[str, float]) -> dict[str, float]:
    """Each dataset's share of the tokens (all 0.0 when there are none)."""
    total = float(sum(float(v) for v in tokens.values()))
    return {str(k): (float(v) / total if total else 0.0) for k, v in tokens.items()}


def plot_composition(
    pool_tokens: Mapping[str, float] | None,
    selected_tokens: Mapping[str, Mapping[str, float]],
    path: str | os.PathLike,
    title: str = "Composition by dataset: share of tokens, selection vs pool",
    max_datasets: int = 20,
) -> str:
    """Grouped horizontal bars: each dataset's token share in the pool and in each selection.

    Datasets are sorted by their share of the pool (or of the first selection when no
    pool is given), the smallest folded into ``other`` past ``max_datasets``; horizontal
    bars keep long dataset names readable.

    Parameters
    ----------
    pool_tokens : dict of dataset -> tokens, optional
        The pool's tokens per dataset (``stats/composition.json`` ``pool``).
    selected_tokens : dict of label -> (dict of dataset -> tokens)
        One entry per selection: a target of one run, or a run in a comparison.
    path : path-like
        Where the PNG goes.
    title : str
        Figure title.
    max_datasets : int
        Most dataset rows drawn.

    Examples
    --------
    >>> plot_composition({"web": 80, "wiki": 20}, {"hellaswag": {"web": 10, "wiki": 30}},
    ...                  "/tmp/c.png")   # doctest: +SKIP
    '/tmp/c.png'
    """
    series: dict[str, dict[str, float]] = {}
    if pool_tokens:
        series["pool"] = token_shares(pool_tokens)
    for label, tokens in selected_tokens.items():
        series[f"selected: {label}" if pool_tokens else str(label)] = token_shares(tokens)
    if not series:
        raise ValueError("plot_composition needs a pool or at least one selection")
    ref = next(iter(series.values()))
    # Union of datasets, ranked by the reference share, then by the largest share anywhere.
    everything: dict[str, float] = {}
    for s in series.values():
        for k, v in s.items():
            everything[k] = max(everything.get(k, 0.0), v)
    ranking = {k: (ref.get(k, 0.0), everything[k]) for k in everything}
    keep = sorted(ranking, key=lambda k: (-ranking[k][0], -ranking[k][1], k))
    if len(keep) > max_datasets:
        keep = cap_categories({k: ranking[k][0] + 1e-9 * ranking[k][1] for k in keep}, max_datasets)
    rows = {label: fold_other(s, keep) for label, s in series.items()}
    names = keep + ([OTHER] if any(OTHER in r for r in rows.values()) else [])

    n_series = len(rows)
    bar_h = 0.8 / n_series
    fig = new_figure(10.0, max(3.5, len(names) * (0.11 * n_series + 0.1) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(names))
    cols = ["0.55"] + colours(n_series) if pool_tokens else colours(n_series)
    for i, ((label, row), col) in enumerate(zip(rows.items(), cols)):
        vals = np.array([row.get(n, 0.0) for n in names]) * 100
        ax.barh(y - 0.4 + bar_h * (i + 0.5), vals, height=bar_h, color=col, label=short(label, 40))
    ax.set_yticks(y)
    ax.set_yticklabels([short(n, 30) for n in names], fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)  # largest pool share on top, no empty margins
    ax.set_xlabel("share of tokens (%)")
    ax.set_ylabel("dataset")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return save(fig, path)
