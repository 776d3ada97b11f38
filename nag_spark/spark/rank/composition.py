"""What each target selected, read back from the written selection table.

Counting the written version (rather than the lazy frames that produced it) makes the
numbers a run reports the numbers of the table it names.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from .options import TargetOutcome


def selected_composition(spark, output: str, version: int, names: Sequence[str]):
    """``(tokens, docs)``: selected tokens per target and dataset (``"<none>"`` for a null
    dataset), and selected documents per target, of ``output`` at ``version``."""
    from pyspark.sql import functions as F

    from ...delta import read_table

    rows = (read_table(spark, output, version).groupBy("target", "dataset")
            .agg(F.sum("token_num").alias("tokens"), F.count(F.lit(1)).alias("docs")).collect())
    tokens: dict[str, dict[str, int]] = {name: {} for name in names}
    for r in rows:
        ds = "<none>" if r["dataset"] is None else r["dataset"]
        tokens.setdefault(r["target"], {})[ds] = int(r["tokens"])
    docs = {name: int(sum(int(r["docs"]) for r in rows if r["target"] == name)) for name in names}
    return tokens, docs


def counted(outcomes: Sequence[TargetOutcome], tokens: dict, docs: dict) -> list[TargetOutcome]:
    """``outcomes`` with their selected docs and tokens filled in."""
    return [replace(o, selected_docs=docs[o.name], selected_tokens=int(sum(tokens[o.name].values())))
            for o in outcomes]
