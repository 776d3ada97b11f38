"""The evaluation of the compared selections, when ``jobs/evaluate.py`` has run on them.

An evaluate run tags each selection's rank run with ``nag.evaluation.<eval>`` =
``"<loss_mean>±<loss_std> nats (<proxy>, <N> tokens, run <id>)"``
(:mod:`nag_spark.tracking.evaluate_run`); the comparison reads those tags from the runs it
already fetched, so no other run is searched.
"""
from __future__ import annotations

from typing import Sequence

from ..schema import EVALUATION_TAG_PREFIX


def evaluation_table(runs: Sequence) -> "pandas.DataFrame":  # noqa: F821
    """One row per eval set, one column per run label; empty when nothing was evaluated.

    >>> from nag_spark.tracking.compare.rank_runs import RankRun
    >>> a = RankRun("a1", "a", "a", "e", {}, {}, {"nag.evaluation.hs": "5.1±0.1 nats"}, "/t", 0)
    >>> evaluation_table([a, RankRun("b1", "b", "b", "e", {}, {}, {}, "/t", 0)]).to_dict()
    {'a': {'hs': '5.1±0.1 nats'}, 'b': {'hs': ''}}
    """
    import pandas as pd

    evals = sorted({k[len(EVALUATION_TAG_PREFIX):] for r in runs for k in r.tags
                    if k.startswith(EVALUATION_TAG_PREFIX)})
    return pd.DataFrame({r.label: [r.tags.get(EVALUATION_TAG_PREFIX + e, "") for e in evals]
                         for r in runs}, index=evals)


def evaluation_lines(runs: Sequence) -> list[str]:
    """Summary lines: each eval set's proxy loss per run (none when nothing was evaluated)."""
    table = evaluation_table(runs)
    if table.empty:
        return []
    lines = ["Proxy evaluation (loss on held-out texts, lower is better):"]
    for ev, row in table.iterrows():
        shown = "; ".join(f"{lab}: {v.split(' (')[0] if v else 'n/a'}" for lab, v in row.items())
        lines.append(f"  {ev}: {shown}")
    return lines
