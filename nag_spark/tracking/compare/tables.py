"""The comparison's tables, from what the runs recorded and the overlap bit masks.

Overlap arrives as ``(mask, docids, tokens)`` triples: bit ``i`` of ``mask`` is set when run
``i`` selected a docid, and each triple counts the distinct docids (and their tokens) of one
set of runs. Every pairwise figure follows from these few rows.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

Masks = Sequence[tuple[int, int, int]]


def jaccard_from_masks(masks: Masks, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise Jaccard on docids and on tokens from the overlap bit masks.

    >>> jd, jt = jaccard_from_masks([(0b01, 2, 20), (0b11, 1, 30), (0b10, 1, 50)], 2)
    >>> round(float(jd[0, 1]), 3), round(float(jt[0, 1]), 3)
    (0.25, 0.3)
    """
    jd = np.eye(n)
    jt = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            bi, bj = 1 << i, 1 << j
            inter = [(d, t) for m, d, t in masks if m & bi and m & bj]
            union = [(d, t) for m, d, t in masks if m & bi or m & bj]
            d_u, t_u = sum(d for d, _ in union), sum(t for _, t in union)
            jd[i, j] = jd[j, i] = sum(d for d, _ in inter) / d_u if d_u else 1.0
            jt[i, j] = jt[j, i] = sum(t for _, t in inter) / t_u if t_u else 1.0
    return jd, jt


def side_by_side(values: Mapping[str, Mapping[str, object]]):
    """Keys × runs table with the keys whose values differ first (``differs`` column).

    >>> side_by_side({"a": {"x": "1", "y": "2"}, "b": {"x": "1", "y": "3"}})["differs"].to_dict()
    {'y': True, 'x': False}
    """
    import pandas as pd

    labels = list(values)
    keys = sorted({k for v in values.values() for k in v})
    table = pd.DataFrame({lab: [values[lab].get(k) for k in keys] for lab in labels}, index=keys,
                         dtype=object)
    table.index.name = "name"
    table["differs"] = [len({repr(v) for v in row}) > 1 for row in table[labels].itertuples(index=False)]
    return table.sort_values(["differs"], ascending=False, kind="stable")


def selection_table(labels: Sequence[str], rows: Mapping[str, int], masks: Masks):
    """Per run: rows of its selection table, distinct docids and their tokens.

    >>> selection_table(["a", "b"], {"a": 3, "b": 1}, [(0b01, 2, 20), (0b11, 1, 30)]).to_dict("list")
    {'rows': [3, 1], 'docids': [3, 1], 'tokens': [50, 30]}
    """
    import pandas as pd

    n = len(labels)
    return pd.DataFrame({
        "rows": [rows[lab] for lab in labels],
        "docids": [sum(d for m, d, _ in masks if m & (1 << i)) for i in range(n)],
        "tokens": [sum(t for m, _, t in masks if m & (1 << i)) for i in range(n)],
    }, index=pd.Index(labels, name="run"))


def jaccard_tables(jd: np.ndarray, jt: np.ndarray, labels: Sequence[str]):
    """The two Jaccard matrices as labelled DataFrames (docids, tokens)."""
    import pandas as pd

    labels = list(labels)
    return (pd.DataFrame(jd, index=pd.Index(labels, name="Jaccard (docids)"), columns=labels),
            pd.DataFrame(jt, index=pd.Index(labels, name="Jaccard (tokens)"), columns=labels))


def pool_tokens(compositions: Sequence[Mapping | None]) -> dict[str, float] | None:
    """The pool's tokens by dataset, from the first run whose composition records it.

    >>> pool_tokens([None, {"pool": {"web": 3}}, {"pool": {"web": 9}}])
    {'web': 3.0}
    """
    for comp in compositions:
        pool = (comp or {}).get("pool")
        if pool:
            return {str(k): float(v) for k, v in pool.items()}
    return None


def composition_table(pool: Mapping[str, float] | None, selected: Mapping[str, Mapping[str, float]]):
    """Share of tokens by dataset (rows): the pool (when known), then each run (columns),
    sorted by the first column.

    >>> composition_table({"web": 3, "code": 1}, {"a": {"code": 2}}).to_dict()
    {'pool': {'web': 0.75, 'code': 0.25}, 'a': {'web': 0.0, 'code': 1.0}}
    """
    import pandas as pd

    from ...plots.composition import token_shares

    series = ({"pool": token_shares(pool)} if pool else {})
    series.update({lab: token_shares(c) for lab, c in selected.items()})
    table = pd.DataFrame(series).fillna(0.0)
    table.index.name = "dataset"
    return table.sort_values(table.columns[0], ascending=False)
