"""The selection rule itself, written plainly: order by ``(key, docid)``, keep the token
budget's prefix.

``budget = floor(fraction × Σ token_num)``; the longest prefix whose cumulative
``token_num`` is ≤ budget is kept, and when even the first row exceeds the budget the first
row is kept alone. :func:`select_by_token_budget` is the sequential definition every
distributed variant is tested against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import InputError


def check_fraction(fraction: float) -> float:
    """Validate a selection fraction: a number in (0, 1].

    >>> check_fraction("0.25")
    0.25
    """
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise InputError(f"--fraction must be a number in (0, 1], got {fraction!r}") from None
    if not (0.0 < value <= 1.0):
        raise InputError(f"--fraction must be in (0, 1], got {fraction}")
    return value


def token_budget(total_tokens: int, fraction: float) -> int:
    """``floor(fraction × total_tokens)``, the one place the budget is computed.

    >>> token_budget(1001, 0.2)
    200
    """
    return int(math.floor(check_fraction(fraction) * int(total_tokens)))


def key_order(key, docid) -> np.ndarray:
    """Positions of the rows in ``(key, docid)`` order (ties on the key broken by docid).

    >>> key_order([0.2, 0.1, 0.2], ["b", "z", "a"]).tolist()
    [1, 2, 0]
    """
    # lexsort: last key is primary. Unicode arrays compare by code point, which is also the
    # order of their UTF-8 bytes, i.e. Spark's string order.
    return np.lexsort((np.asarray(docid).astype(str), np.asarray(key, dtype=np.float64)))


@dataclass(frozen=True)
class Selection:
    """Rows kept by a selection, in rank order.

    Attributes
    ----------
    order : ndarray of int
        Positions (into the input arrays) of the kept rows; ``rank = i + 1``.
    cum_tokens : ndarray of int64
        Cumulative tokens of the kept rows, in the same order.
    budget : int
        The token budget used.
    """

    order: np.ndarray
    cum_tokens: np.ndarray
    budget: int


def select_by_token_budget(key, docid, token_num, fraction: float) -> Selection:
    """The sequential reference of DESIGN.md §1.

    Examples
    --------
    >>> s = select_by_token_budget([0.3, 0.1, 0.2], ["c", "a", "b"], [5, 5, 5], 0.7)
    >>> s.order.tolist(), s.cum_tokens.tolist(), s.budget
    ([1, 2], [5, 10], 10)
    """
    key = np.asarray(key, dtype=np.float64)
    tokens = np.asarray(token_num, dtype=np.int64)
    budget = token_budget(int(tokens.sum()), fraction)
    if len(key) == 0:
        return Selection(np.zeros(0, np.int64), np.zeros(0, np.int64), budget)
    order = key_order(key, docid)
    cum = np.cumsum(tokens[order])
    n = int(np.count_nonzero(cum <= budget))  # cum is non-decreasing: the prefix length
    n = max(n, 1)
    return Selection(order[:n], cum[:n], budget)
