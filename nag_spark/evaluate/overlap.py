"""Refusing eval texts that are not held out: the targets that built the profile, or the
selection itself.

An eval text overlaps a table when a row there has its ``docid`` or its normalised text
(lowercased, runs of whitespace collapsed to one space, trimmed). The check runs in Spark
(a semi-join on the docid and a join on a SHA-256 of the normalised text, all eval sets
at once) and only counts and one example of each kind per eval set reach the driver.

Which rows are "the targets" of a selection: the values of its ``target`` column (or, in a
table without one, its ``nag.target`` property), each resolved as ``jobs/rank.py`` resolved
it (``conf/targets.yaml`` names, or inline ``COL=VALUE`` filters), applied to the text table
``--target-docs`` (default ``--eval-docs``, the usual case: one table holds the train
split that built the profile and the held-out split). A target with no row there is
refused too: the check could not be made.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError


def normalise_text(text: str) -> str:
    """The key of the text check (what :func:`normalised` computes in Spark).

    >>> normalise_text("  The  Cat\\n sat ")
    'the cat sat'
    """
    return " ".join(text.lower().split())


def normalised(col):
    """Spark column: ``col`` lowercased, whitespace runs collapsed, trimmed."""
    from pyspark.sql import functions as F

    return F.trim(F.regexp_replace(F.lower(col), r"\s+", " "))


@dataclass(frozen=True)
class Overlap:
    """Eval texts that also appear in another table."""

    eval_label: str
    against: str
    by_docid: int
    by_text: int
    docid_example: str | None = None
    text_example: tuple[str, str] | None = None

    @property
    def any(self) -> bool:
        return bool(self.by_docid or self.by_text)

    def message(self) -> str:
        parts = []
        if self.by_docid:
            parts.append(f"{self.by_docid} share a docid (e.g. {self.docid_example!r})")
        if self.by_text:
            a, b = self.text_example
            parts.append(f"{self.by_text} share their normalised text (e.g. eval docid {a!r} "
                         f"= {b!r})")
        return (f"eval set {self.eval_label} is not held out from {self.against}: "
                f"{' and '.join(parts)}")


def find_overlap(eval_df, other_df, eval_label: str, against: str) -> Overlap:
    """Count the eval rows (``docid``, ``doc``) found in ``other_df`` by docid or text."""
    return find_overlaps({eval_label: eval_df}, other_df, against)[0]


def find_overlaps(eval_sets: dict, other_df, against: str) -> list[Overlap]:
    """:func:`find_overlap` of every eval set (``{label: frame}``) against ``other_df`` at
    once: the eval sets go in one labelled frame, so each check is two Spark jobs whatever
    the number of eval sets (one per set and kind made a 40-selection, 6-set evaluation
    spend most of its time here)."""
    from functools import reduce

    from pyspark.sql import functions as F

    frames = [df.select(F.lit(label).alias("e_label"), F.col("docid").alias("e_docid"),
                        F.sha2(normalised(F.col("doc")), 256).alias("e_key"))
              for label, df in eval_sets.items()]
    ev = reduce(lambda x, y: x.unionByName(y), frames)
    other = other_df.select(F.col("docid").alias("o_docid"),
                            F.sha2(normalised(F.col("doc")), 256).alias("o_key"))
    same_id = ev.join(other.select("o_docid").distinct(), ev.e_docid == other.o_docid, "left_semi")
    by_id = {r["e_label"]: (r["n"], r["ex"]) for r in same_id.groupBy("e_label").agg(
        F.count(F.lit(1)).alias("n"), F.min("e_docid").alias("ex")).collect()}
    same_text = ev.join(other, ev.e_key == other.o_key, "inner")
    by_text = {r["e_label"]: (r["n"], r["ex"]) for r in same_text.groupBy("e_label").agg(
        F.countDistinct("e_docid").alias("n"), F.min(F.struct("e_docid", "o_docid")).alias("ex")
    ).collect()}
    out = []
    for label in eval_sets:
        n_id, id_ex = by_id.get(label, (0, None))
        n_text, text_ex = by_text.get(label, (0, None))
        out.append(Overlap(label, against, n_id, n_text, id_ex,
                           (text_ex[0], text_ex[1]) if text_ex is not None else None))
    return out


def refuse_overlaps(overlaps) -> None:
    """Raise one :class:`InputError` listing every overlap found."""
    bad = [o for o in overlaps if o.any]
    if bad:
        raise InputError("; ".join(o.message() for o in bad) + ". Evaluate on texts held out "
                         "from the targets and the selection (e.g. dataset=hellaswag_val for "
                         "a selection ranked against hellaswag_train)")
