"""Refusing eval texts that are not held out: the targets that built the profile, or the
selection itself.

An eval text overlaps a table when a row there has its ``docid`` or its normalised text
(lowercased, runs of whitespace collapsed to one space, trimmed). The check runs in Spark
(a semi-join on the docid and a join on a SHA-256 of the normalised text) and only counts
and one example of each kind reach the driver.

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
    from pyspark.sql import functions as F

    ev = eval_df.select(F.col("docid").alias("e_docid"),
                        F.sha2(normalised(F.col("doc")), 256).alias("e_key"))
    other = other_df.select(F.col("docid").alias("o_docid"),
                            F.sha2(normalised(F.col("doc")), 256).alias("o_key"))
    same_id = ev.join(other.select("o_docid").distinct(), ev.e_docid == other.o_docid, "left_semi")
    same_text = ev.join(other, ev.e_key == other.o_key, "inner")
    id_rows = same_id.select("e_docid").orderBy("e_docid").limit(1).collect()
    n_id = same_id.count()
    text_rows = same_text.select("e_docid", "o_docid").orderBy("e_docid", "o_docid").limit(1).collect()
    n_text = same_text.select("e_docid").distinct().count()
    return Overlap(eval_label, against, n_id, n_text,
                   id_rows[0][0] if id_rows else None,
                   (text_rows[0][0], text_rows[0][1]) if text_rows else None)


def refuse_overlaps(overlaps) -> None:
    """Raise one :class:`InputError` listing every overlap found."""
    bad = [o for o in overlaps if o.any]
    if bad:
        raise InputError("; ".join(o.message() for o in bad) + ". Evaluate on texts held out "
                         "from the targets and the selection (e.g. dataset=hellaswag_val for "
                         "a selection ranked against hellaswag_train)")
