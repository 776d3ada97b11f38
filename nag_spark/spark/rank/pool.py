"""The pool side of a ranking: which rows and columns are scored, and the one aggregation
that sizes the pool and checks it before any selection.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ...errors import InputError
from ...logs import get_logger
from ..targets import target_condition
from .direct_scan import DOCID_HASH
from .options import RankOptions
from .plan import RankingPlan

log = get_logger(__package__)  # the ranking job's one logger (nag_spark.spark.rank)
_EXAMPLES = 5  # offending docids an error message shows


@dataclass(frozen=True, eq=False)
class PoolToScore:
    """The pool rows to score and the columns carried through scoring into the selection."""

    df: object
    columns: list[str]
    excluded_target_rows: int


def source_columns(plan: RankingPlan, opts: RankOptions) -> list[str]:
    """The pool table's columns that :func:`pool_to_score` reads, but the NAG column."""
    wanted = ["docid", "dataset", "token_num", opts.quality_col, *opts.payload_cols]
    if plan.same_table:
        wanted += [s.column for s in plan.specs]
    present = set(plan.pool_df.columns)
    return list(dict.fromkeys(c for c in wanted if c and c in present))


def pool_to_score(plan: RankingPlan, opts: RankOptions, n_target_rows: Sequence[int],
                  frame=None, quiet: bool = False, targets_dropped: bool = False) -> PoolToScore:
    """The pool without the target rows (when both share a table), with ``dataset`` (null
    when the pool has none) and ``quality`` (the quality column as double) columns.

    ``frame`` replaces the plan's pool DataFrame: the pool already scored from its files,
    with :func:`source_columns` (the target rows are then dropped after scoring, unless
    ``targets_dropped``: the scan already left them out)."""
    from pyspark.sql import functions as F

    pool = plan.pool_df if frame is None else frame
    excluded = 0
    if plan.same_table:
        # Target rows must not select themselves: drop every target's rows from the pool.
        if not targets_dropped:
            pool = pool.filter(~target_condition(plan.specs))
        excluded = int(sum(n_target_rows))
        if not quiet:
            log.info("target rows come from the pool table: %d target rows excluded from the "
                     "pool", excluded)
    if "dataset" not in pool.columns:
        pool = pool.withColumn("dataset", F.lit(None).cast("string"))
    columns = ["docid", "dataset", "token_num"]
    if opts.quality_col:
        pool = pool.withColumn("quality", F.col(opts.quality_col).cast("double"))
        columns.append("quality")
    columns += list(opts.payload_cols)
    return PoolToScore(pool, columns, excluded)


def pool_stats(scored, keys: Sequence[str], quality: str | None,
               target_docids: Sequence[str] = ()) -> dict:
    """One aggregation over the scored pool: rows, distinct and null docids, tokens, bad
    token counts, the bounds of each distance column ``k`` (``k_lo``/``k_hi``) and of the
    quality column; with ``target_docids`` (target rows of the same table), how many pool
    rows carry one of them.

    A pool scanned from its files has each docid's 64-bit hash (:data:`DOCID_HASH`), and
    its distinct values are counted instead, which is cheaper; only when they are fewer
    than the rows (a duplicate, or a collision) are the docids themselves counted."""
    from pyspark.sql import functions as F

    hashed = DOCID_HASH in scored.columns
    aggs = [F.count(F.lit(1)).alias("docs"), F.sum("token_num").alias("tokens"),
            F.count_distinct(DOCID_HASH if hashed else "docid").alias("distinct_ids"),
            F.sum(F.col("docid").isNull().cast("long")).alias("null_ids"),
            F.sum(F.col("token_num").isNull().cast("long")).alias("null_tokens"),
            F.sum((F.col("token_num") < 0).cast("long")).alias("negative_tokens")]
    if target_docids:
        aggs.append(F.sum(F.col("docid").isin(list(target_docids)).cast("long")).alias("target_ids"))
    for k in keys:
        aggs += [F.min(k).alias(f"{k}_lo"), F.max(k).alias(f"{k}_hi")]
    if quality:
        bad = F.col(quality).isNull() | F.isnan(F.col(quality))
        aggs += [F.min(F.when(~bad, F.col(quality))).alias("q_lo"),
                 F.max(F.when(~bad, F.col(quality))).alias("q_hi"),
                 F.sum(bad.cast("long")).alias("q_bad")]
    stats = scored.agg(*aggs).collect()[0].asDict()
    return confirm_distinct(stats, scored) if hashed else stats


def confirm_distinct(stats: dict, df) -> dict:
    """``stats`` whose ``distinct_ids`` counted docid hashes: fewer distinct hashes than
    docids (a duplicate, or a collision) has the docids of ``df`` counted instead."""
    from pyspark.sql import functions as F

    if stats["distinct_ids"] != stats["docs"] - stats["null_ids"]:
        stats = dict(stats, distinct_ids=df.agg(F.count_distinct("docid")).collect()[0][0])
    return stats


def key_bounds(stats: dict, key: str) -> tuple[float, float]:
    """``(min, max)`` of distance column ``key`` over the pool (from :func:`pool_stats`)."""
    return float(stats[f"{key}_lo"]), float(stats[f"{key}_hi"])


def check_pool(stats: dict, scored, opts: RankOptions) -> None:
    """Refuse an empty pool, bad token counts (naming docids) and bad quality values."""
    from pyspark.sql import functions as F

    if not stats["docs"]:
        raise InputError(f"pool {opts.pool} has no rows to rank")
    if stats["null_ids"]:
        raise InputError(f"pool {opts.pool}: column 'docid' has {stats['null_ids']} null values; "
                         "every document needs its docid")
    if stats["distinct_ids"] != stats["docs"]:
        refuse_duplicates(scored, f"pool {opts.pool}", int(stats["docs"] - stats["distinct_ids"]))
    if stats.get("target_ids"):
        raise InputError(
            f"pool {opts.pool}: {stats['target_ids']} docids of the target rows appear again as "
            "other rows of the same table; a features table must hold each document once "
            "(was it filled by two extractions at once?): extract into a new table")
    if stats["null_tokens"] or stats["negative_tokens"]:
        bad = scored.filter(F.col("token_num").isNull() | (F.col("token_num") < 0))
        shown = ", ".join(repr(r["docid"]) for r in bad.select("docid").limit(5).collect())
        raise InputError(
            f"pool {opts.pool}: column 'token_num' has {stats['null_tokens']} null and "
            f"{stats['negative_tokens']} negative values (e.g. docid {shown}); token counts "
            "must be non-negative integers"
        )
    if opts.quality_col and stats["q_bad"]:
        raise InputError(f"pool {opts.pool}: quality column {opts.quality_col!r} has "
                         f"{stats['q_bad']} null or NaN values")


def refuse_duplicates(df, what: str, extra_rows: int, action: str = "ranked") -> None:
    """Raise the duplicate-docid error for ``df``, with examples (a failure path: one more
    small aggregation over ``df``)."""
    from pyspark.sql import functions as F

    dups = df.groupBy("docid").count().filter(F.col("count") > 1)
    n_ids = dups.count()
    shown = ", ".join(f"{r['docid']!r} ({r['count']}x)" for r in
                      dups.orderBy(F.col("count").desc(), "docid").limit(_EXAMPLES).collect())
    raise InputError(
        f"{what} holds {extra_rows} duplicate rows: {n_ids} docids appear more than once, e.g. "
        f"{shown}. A features table must hold each document once (was it filled by two "
        f"extractions at once?): extract into a new table; nothing was {action}")
