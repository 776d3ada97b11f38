"""The comparison's console summary: a few lines a user reads before opening the report."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .evaluation import evaluation_lines

# Beyond this many pairs the summary names the first ones and counts the rest.
MAX_PAIRS_SHOWN = 10


def _boundaries(run) -> str:
    return ", ".join(f"{t}={b:.4f}" for t, b in sorted(run.boundaries.items())) or "n/a"


def _pairs(labels: Sequence[str], jd: np.ndarray, jt: np.ndarray) -> str:
    pairs = [f"{labels[i]} ~ {labels[j]}: {jd[i, j]:.3f} ({jt[i, j]:.3f})"
             for i in range(len(labels)) for j in range(i + 1, len(labels))]
    more = len(pairs) - MAX_PAIRS_SHOWN
    return "; ".join(pairs[:MAX_PAIRS_SHOWN]) + (f"; ... {more} more pairs" if more > 0 else "")


def summary_text(runs, selection, jd: np.ndarray, jt: np.ndarray, composition, params) -> str:
    """The summary of a comparison.

    Parameters
    ----------
    runs : sequence of RankRun
        The compared runs, in report order.
    selection, composition, params : pandas.DataFrame
        The report's tables (:mod:`~nag_spark.tracking.compare.tables`).
    jd, jt : ndarray
        Pairwise Jaccard on docids and on tokens.

    Examples
    --------
    >>> import pandas as pd
    >>> from nag_spark.tracking.compare.rank_runs import RankRun
    >>> from nag_spark.tracking.compare.tables import side_by_side
    >>> runs = [RankRun(f"{x}0000000", x, x, "e", {}, {}, {}, "/t", 0) for x in "ab"]
    >>> sel = pd.DataFrame({"docids": [2, 3], "tokens": [20, 30]}, index=["a", "b"])
    >>> comp = pd.DataFrame({"a": [1.0], "b": [1.0]}, index=["web"])
    >>> params = side_by_side({"a": {"fraction": "0.2"}, "b": {"fraction": "0.3"}})
    >>> print(summary_text(runs, sel, np.eye(2), np.eye(2), comp, params))
    Compared 2 rank runs:
      a [a0000000]: 2 docs, 20 tokens; boundary n/a
      b [b0000000]: 3 docs, 30 tokens; boundary n/a
    Parameters that differ: fraction
    Jaccard on docids (tokens): a ~ b: 0.000 (0.000)
    """
    lines = [f"Compared {len(runs)} rank runs:"]
    for r in runs:
        s = selection.loc[r.label]
        lines.append(f"  {r.label} [{r.run_id[:8]}]: {int(s['docids']):,} docs, "
                     f"{int(s['tokens']):,} tokens; boundary {_boundaries(r)}")
    differ = [k for k, d in params["differs"].items() if d]
    lines.append("Parameters that differ: " + (", ".join(differ) if differ else "none"))
    labels = [r.label for r in runs]
    lines.append("Jaccard on docids (tokens): " + _pairs(labels, jd, jt))
    if "pool" in composition.columns:
        for lab in labels:
            diff = (composition[lab] - composition["pool"]).sort_values()
            top, low = diff.index[-1], diff.index[0]
            lines.append(f"  {lab}: most over-represented {top} ({diff[top] * 100:+.1f} pt), "
                         f"most under-represented {low} ({diff[low] * 100:+.1f} pt) vs the pool")
    lines += evaluation_lines(runs)  # jobs/evaluate.py results, when there are any
    return "\n".join(lines)
