"""The paper's variants of the selection, as sequential references: the quality blend and
the multi-target mixture.

The Spark job evaluates the same arithmetic as column expressions
(:mod:`nag_spark.spark.rank.quality`, :mod:`nag_spark.spark.rank.multi_target`), so its
results equal these bit for bit.
"""
from __future__ import annotations

import numpy as np

from ...errors import InputError
from .budget import Selection, check_fraction, select_by_token_budget


def minmax_normalise(values, lo: float, hi: float, invert: bool = False) -> np.ndarray:
    """``(v - lo) / (hi - lo)`` (0 when hi == lo); ``1 - that`` when ``invert``.

    >>> minmax_normalise([2.0, 3.0, 4.0], 2.0, 4.0).tolist()
    [0.0, 0.5, 1.0]
    >>> minmax_normalise([2.0, 3.0], 2.0, 4.0, invert=True).tolist()
    [1.0, 0.5]
    """
    values = np.asarray(values, dtype=np.float64)
    span = hi - lo
    out = (values - lo) / span if span > 0 else np.zeros_like(values)
    return 1.0 - out if invert else out


def blend_quality(distance, quality, distance_bounds, quality_bounds,
                  invert_quality: bool) -> np.ndarray:
    """The paper's quality blend: normalised distance plus normalised quality (lower wins).

    ``invert_quality`` is for higher-is-better quality scores.

    >>> blend_quality([0.2, 0.4], [1.0, 3.0], (0.2, 0.4), (1.0, 3.0), invert_quality=True).tolist()
    [1.0, 1.0]
    """
    return (minmax_normalise(distance, *distance_bounds)
            + minmax_normalise(quality, *quality_bounds, invert=invert_quality))


def split_fraction(fraction: float, n_targets: int) -> float:
    """Each of M targets selects ``fraction / M`` (the paper's multi-target mixture).

    >>> split_fraction(0.5, 2)
    0.25
    """
    if n_targets < 1:
        raise InputError("at least one target is needed")
    return check_fraction(fraction) / n_targets


def select_multi_target(keys: dict, docid, token_num, fraction: float,
                        dedupe: bool = False) -> list[tuple[str, Selection]]:
    """Sequential multi-target reference: each target keeps ``fraction / M``.

    With ``dedupe`` a docid kept by an earlier target (in ``keys`` order) is dropped from the
    later ones; ranks and cum_tokens stay those of each target's own selection.

    Examples
    --------
    >>> keys = {"a": [0.1, 0.2, 0.3], "b": [0.2, 0.1, 0.3]}
    >>> [(t, s.order.tolist()) for t, s in select_multi_target(keys, ["x", "y", "z"],
    ...                                                         [1, 1, 1], 1.0, dedupe=True)]
    [('a', [0]), ('b', [1])]
    """
    frac = split_fraction(fraction, len(keys))
    docid = np.asarray(docid).astype(str)
    seen: set[str] = set()
    out = []
    for target, key in keys.items():
        sel = select_by_token_budget(key, docid, token_num, frac)
        if dedupe:
            keep = np.array([d not in seen for d in docid[sel.order]], dtype=bool)
            seen.update(docid[sel.order].tolist())
            sel = Selection(sel.order[keep], sel.cum_tokens[keep], sel.budget)
        out.append((target, sel))
    return out
