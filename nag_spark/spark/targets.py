"""The rows of a features table that form each target (``conf/targets.yaml`` filters).

Ranking builds one profile per target and drops the target rows from the pool when both
live in one table; the deactivation analysis builds the profile of one target. Both read
the target rows here, so the filter and the "target is empty" error are written once.
"""
from __future__ import annotations

from typing import Sequence

from ..config import TargetSpec
from ..errors import InputError


def target_condition(specs: Sequence[TargetSpec]):
    """A Spark condition true on the rows of any of ``specs`` (null filter values: false)."""
    from pyspark.sql import functions as F

    cond = None
    for spec in specs:
        c = F.col(spec.column).isin(list(spec.values))
        cond = c if cond is None else (cond | c)
    return F.coalesce(cond, F.lit(False))


def collect_target_rows(df, specs: Sequence[TargetSpec], columns: Sequence[str], table: str):
    """Each target's rows of ``df``, only ``columns``, as one Arrow table per spec.

    With several targets the union of their rows is read from ``df`` once and cached, so
    a large table holding the targets (the pool itself, by default) is scanned once.

    Raises
    ------
    InputError
        A target with no rows; the message lists values present in its filter column.
    """
    from pyspark.sql import functions as F

    filter_cols = sorted({s.column for s in specs} - set(columns))
    rows = df
    if len(specs) > 1:
        rows = df.filter(target_condition(specs)).select(*columns, *filter_cols).persist()
    try:
        out = []
        for spec in specs:
            got = rows.filter(F.col(spec.column).isin(list(spec.values))).select(*columns).toArrow()
            if got.num_rows == 0:
                present = [r[0] for r in df.select(spec.column).distinct().limit(20).collect()]
                raise InputError(
                    f"target {spec.name!r} is empty: no row of {table} has {spec.describe()}; "
                    f"values present in {spec.column!r}: "
                    f"{', '.join(map(str, sorted(present, key=str)))}"
                )
            out.append(got)
        return out
    finally:
        if rows is not df:
            rows.unpersist()
