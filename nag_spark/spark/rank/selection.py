"""Exact token-budget selection over a scored Spark DataFrame, without a global sort.

Spark side of :mod:`nag_spark.kernels.selection`: histograms are Spark aggregations
(a few thousand rows reach the driver), only the boundary bin's rows are collected and
ordered, and ranks come from per-group offsets plus a sort *within* partitions. Neither
``orderBy`` over the pool nor a window without a partition key is used.

The scored frame must have ``docid``, ``token_num`` and a double key column; it is read
several times (histogram, refinements, final filter), so callers persist it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ...kernels.selection import (
    BinStats, BoundaryResult, Cutoff, FirstHistogram, RankAssigner, RankPlan, docid_bucket,
    find_cutoff, plan_rank_groups,
)

_GROUP = "_nag_group"
# Settings for handing the ranked rows to Python when they are the selection's narrow columns
# (no payload): Spark 4 weighs each row it hands over against arrow.maxBytesPerBatch
# (ArrowWriter.sizeInBytes, 10% of the write stage's JVM samples), and such rows need only
# the row count to bound a batch (10,000 rows of ids, names and numbers: a few MB). A 20M
# ranking, alternating in one process: write 5.9-6.3 s against 7.2-8.3. With payload
# columns (a document's text can be megabytes) the byte limit stays the session's.
NARROW_ROWS_CONF = {"spark.sql.execution.arrow.maxRecordsPerBatch": "10000",
                    "spark.sql.execution.arrow.maxBytesPerBatch": "2147483647"}


def bin_column(key_col: str, lo: float, hi: float, n_bins: int):
    """Spark expression of :func:`nag_spark.kernels.selection.bin_index` (same formula)."""
    from pyspark.sql import functions as F

    if not hi > lo:
        return F.lit(0).cast("long")
    scale = n_bins / (hi - lo)
    raw = F.floor((F.col(key_col) - F.lit(lo)) * F.lit(scale))
    return F.least(F.greatest(raw, F.lit(0)), F.lit(n_bins - 1)).cast("long")


def _stats_from_rows(rows, n_bins: int, numeric: bool = True) -> BinStats:
    out = BinStats.empty(n_bins, np.float64 if numeric else object)
    for r in rows:
        b = int(r["b"])
        out.tokens[b] += int(r["tokens"] or 0)
        out.counts[b] += int(r["n"])
        lo, hi = r["lo"], r["hi"]
        if numeric:
            out.lo[b] = min(out.lo[b], lo)
            out.hi[b] = max(out.hi[b], hi)
        else:
            out.lo[b] = lo if out.lo[b] is None else min(out.lo[b], lo)
            out.hi[b] = hi if out.hi[b] is None else max(out.hi[b], hi)
    return out


def first_histogram(df, key_col: str, lo: float, hi: float, n_bins: int) -> FirstHistogram:
    """One aggregation: tokens, rows and key bounds per (bin, dataset).

    The result is both the selection's first-level histogram and what the run reports of
    the pool (:class:`~nag_spark.kernels.selection.FirstHistogram`).
    """
    from pyspark.sql import functions as F

    rows = (df.select(bin_column(key_col, lo, hi, n_bins).alias("b"), "dataset", "token_num",
                      F.col(key_col).alias("k"))
            .groupBy("b", "dataset")
            .agg(F.sum("token_num").alias("tokens"), F.count(F.lit(1)).alias("n"),
                 F.min("k").alias("lo"), F.max("k").alias("hi"))
            .collect())
    by_ds: dict[str, np.ndarray] = {}
    tok_ds: dict[str, int] = {}
    for r in rows:
        name = "<none>" if r["dataset"] is None else str(r["dataset"])
        by_ds.setdefault(name, np.zeros(n_bins, np.int64))[int(r["b"])] += int(r["n"])
        tok_ds[name] = tok_ds.get(name, 0) + int(r["tokens"] or 0)
    return FirstHistogram(_stats_from_rows(rows, n_bins), lo, hi, n_bins,
                          dict(sorted(by_ds.items())), dict(sorted(tok_ds.items())))


class SparkBoundaryBackend:
    """:class:`~nag_spark.kernels.selection.BoundaryBackend` over a scored DataFrame."""

    def __init__(self, df, key_col: str, seed: int = 20260401):
        self.df = df
        self.key = key_col
        self.seed = seed

    def _key_range(self, lo, hi):
        from pyspark.sql import functions as F

        return self.df.filter((F.col(self.key) >= F.lit(lo)) & (F.col(self.key) <= F.lit(hi)))

    def _ties(self, key, id_lo, id_hi):
        from pyspark.sql import functions as F

        df = self.df.filter(F.col(self.key) == F.lit(key))
        if id_lo is not None:
            df = df.filter((F.col("docid") >= F.lit(id_lo)) & (F.col("docid") <= F.lit(id_hi)))
        return df

    def key_stats(self, lo, hi, n_bins):
        from pyspark.sql import functions as F

        rows = (self._key_range(lo, hi)
                .select(bin_column(self.key, lo, hi, n_bins).alias("b"), "token_num",
                        F.col(self.key).alias("k"))
                .groupBy("b").agg(F.sum("token_num").alias("tokens"), F.count(F.lit(1)).alias("n"),
                                  F.min("k").alias("lo"), F.max("k").alias("hi"))
                .collect())
        return _stats_from_rows(rows, n_bins)

    def docid_splitters(self, key, id_lo, id_hi, n, count):
        # The sample only steers how fast the refinement converges; the cutoff is exact
        # whatever it returns, so a seeded sample is enough for determinism of the output.
        fraction = min(1.0, 2.0 * n / max(count, 1))
        rows = self._ties(key, id_lo, id_hi).select("docid").sample(fraction=fraction,
                                                                    seed=self.seed).collect()
        ids = sorted({r["docid"] for r in rows})
        step = max(1, len(ids) // n)
        return ids[::step]

    def docid_stats(self, key, id_lo, id_hi, splitters):
        from pyspark.sql import functions as F

        split = list(splitters)

        def bucket(batches):
            for batch in batches:
                ids = batch.column("docid").to_numpy(zero_copy_only=False)
                yield pa.RecordBatch.from_arrays(
                    [pa.array(docid_bucket(ids, split)), batch.column("docid"),
                     batch.column("token_num")], names=["b", "docid", "token_num"])

        rows = (self._ties(key, id_lo, id_hi).select("docid", "token_num")
                .mapInArrow(bucket, "b long, docid string, token_num long")
                .groupBy("b").agg(F.sum("token_num").alias("tokens"), F.count(F.lit(1)).alias("n"),
                                  F.min("docid").alias("lo"), F.max("docid").alias("hi"))
                .collect())
        return _stats_from_rows(rows, len(split) + 1, numeric=False)

    def rows(self, key_lo, key_hi, id_lo=None, id_hi=None):
        from pyspark.sql import functions as F

        df = self._key_range(key_lo, key_hi)
        if id_lo is not None:
            df = df.filter((F.col("docid") >= F.lit(id_lo)) & (F.col("docid") <= F.lit(id_hi)))
        table = df.select(F.col(self.key).alias("k"), "docid", "token_num").toArrow()
        return (table.column("k").to_numpy(), np.asarray(table.column("docid").to_pylist(), dtype=str),
                table.column("token_num").to_numpy())


def cutoff_filter(key_col: str, cutoff: Cutoff):
    """Spark predicate of :meth:`Cutoff.mask` (None when every row is kept)."""
    from pyspark.sql import functions as F

    if cutoff.keeps_all:
        return None
    k, d = F.col(key_col), F.col("docid")
    tie = d <= F.lit(cutoff.docid) if cutoff.inclusive else d < F.lit(cutoff.docid)
    return (k < F.lit(cutoff.key)) | ((k == F.lit(cutoff.key)) & tie)


def group_column(bin_col, plan: RankPlan):
    """Spark expression of ``plan.group_of_bin[bin]`` for the kept bins: groups are runs of
    consecutive bins, so the group is how many later groups start at or before the bin.
    One comparison per group (a few), where a literal array of every bin's group cost a
    py4j call per bin (about 1 s for 4096 bins)."""
    from pyspark.sql import functions as F

    groups = np.asarray(plan.group_of_bin)
    starts = [int(np.argmax(groups == g)) for g in range(1, plan.n_groups)]
    out = F.lit(0).cast("long")
    for start in starts:
        out = out + (bin_col >= F.lit(start)).cast("long")
    return out


# Group count -> {partition: smallest long that Spark's hash sends there}.
_FIRST_OF_PARTITION: dict[int, dict[int, int]] = {}


def partition_column(spark, group_col, n: int):
    """A column that ``repartition(n, column)`` sends to partition ``g`` for the rows of
    group ``g`` (``0 <= g < n``): one group per partition, so one task and one file each.

    Hashing the group itself put several of a few groups in one partition (2 groups: one
    partition half the time), and one core then ranked and wrote what two could. Each
    group is mapped to a long whose Spark hash (Murmur3, what hash partitioning uses) is
    ``g`` modulo ``n``, found by hashing ``64 * n`` candidates in one small query."""
    from pyspark.sql import functions as F

    if n <= 1:
        return F.lit(0).cast("long")
    first = _FIRST_OF_PARTITION.get(n)
    if first is None:  # once per group count and process: every target of a run reuses it
        rows = (spark.range(0, 64 * n).select("id", F.pmod(F.hash("id"), F.lit(n)).alias("p"))
                .groupBy("p").agg(F.min("id").alias("v")).collect())
        first = _FIRST_OF_PARTITION[n] = {int(r["p"]): int(r["v"]) for r in rows}
    if len(first) < n:  # not seen for any n tried; hashing the group is still correct
        return group_col
    return F.element_at(F.array(*[F.lit(first[p]).cast("long") for p in range(n)]),
                        (group_col + F.lit(1)).cast("int"))


@dataclass(frozen=True)
class SparkSelection:
    """A target's selection: the ranked DataFrame and how its boundary was found."""

    df: object
    boundary: BoundaryResult
    plan: RankPlan
    histogram: FirstHistogram
    budget: int


def select_exact(df, key_col: str, budget: int, lo: float, hi: float, *, n_bins: int,
                 max_boundary_rows: int, rows_per_group: int,
                 hist: FirstHistogram | None = None) -> SparkSelection:
    """Rows of ``df`` kept by the token budget, with exact ``rank`` and ``cum_tokens``.

    Parameters
    ----------
    df : DataFrame
        Scored rows: ``docid``, ``dataset``, ``token_num``, ``key_col`` and any payload.
    key_col : str
        Column ordered ascending (ties broken by ``docid``).
    budget : int
        Token budget (:func:`~nag_spark.kernels.selection.token_budget`).
    lo, hi : float
        Minimum and maximum of ``key_col`` over ``df``.
    n_bins, max_boundary_rows, rows_per_group : int
        Histogram resolution, largest boundary set ordered on the driver, and rows per
        ranking group (one output partition per group).
    hist : FirstHistogram, optional
        The first histogram of the whole pool, already made (its own ``lo``, ``hi`` and
        ``n_bins`` then define the bins). ``df`` need then hold only every row up to the
        bin where the budget is crossed: nothing after it is ordered.
    """
    from pyspark.sql import functions as F

    if hist is None:
        hist = first_histogram(df, key_col, lo, hi, n_bins)
    lo, hi = hist.lo, hist.hi
    result = find_cutoff(SparkBoundaryBackend(df, key_col), hist.stats, budget, n_bins,
                         max_boundary_rows)
    plan = plan_rank_groups(hist.stats, result.boundary_bin, rows_per_group)
    cond = cutoff_filter(key_col, result.cutoff)
    kept = df if cond is None else df.filter(cond)
    kept = kept.withColumn(_GROUP, group_column(bin_column(key_col, lo, hi, hist.n_bins), plan))
    out_schema = kept.drop(_GROUP).schema.add("rank", "long").add("cum_tokens", "long")
    names = out_schema.fieldNames()

    def assign(batches):
        ranker = RankAssigner(plan)  # one per partition: groups never span partitions
        for batch in batches:
            rank, cum = ranker.assign(batch.column(_GROUP).to_numpy(zero_copy_only=False),
                                      batch.column("token_num").to_numpy(zero_copy_only=False))
            cols = [batch.column(n) for n in names[:-2]] + [pa.array(rank), pa.array(cum)]
            yield pa.RecordBatch.from_arrays(cols, schema=pa.schema(
                [pa.field(n, c.type) for n, c in zip(names, cols)]))

    n_parts = max(plan.n_groups, 1)
    # Sorted by (key, docid) alone: a group is a non-decreasing function of the key (runs of
    # consecutive bins), so this is also the (group, key, docid) order the ranker needs.
    # With the group first, every row of a partition (one group) had the same sort prefix
    # and each comparison fell through to the whole row: 4M rows sorted in 2.6 s against 1.0.
    ranked = (kept.repartition(n_parts, partition_column(df.sparkSession, F.col(_GROUP), n_parts))
              .sortWithinPartitions(key_col, "docid")
              .mapInArrow(assign, out_schema))
    return SparkSelection(ranked, result, plan, hist, budget)
