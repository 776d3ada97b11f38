"""The neuron types NAG can record (DESIGN.md §1), without importing torch.

Kept apart from :mod:`nag_spark.kernels.impact` so the ranking driver and option parsing
can validate a type name without paying torch's import.
"""
from __future__ import annotations

from typing import Iterable

from ..errors import InputError

NEURON_TYPES = ("fwd_up", "fwd_down", "att_q", "att_k", "att_v", "att_o")


def parse_neuron_types(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Validate a comma list (or iterable) of neuron types, keeping order, no repeats.

    Examples
    --------
    >>> parse_neuron_types("fwd_up,att_k")
    ('fwd_up', 'att_k')
    """
    if value is None:
        return ("fwd_up",)
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        name = str(raw).strip()
        if not name:
            continue
        if name not in NEURON_TYPES:
            raise InputError(f"unknown neuron type {name!r}; known: {', '.join(NEURON_TYPES)}")
        if name not in out:
            out.append(name)
    if not out:
        raise InputError(f"no neuron type given; known: {', '.join(NEURON_TYPES)}")
    return tuple(out)
