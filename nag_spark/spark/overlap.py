"""Reading the compared selections from Delta and counting their overlap in one Spark job.

Every docid gets a bit mask of the runs that selected it, and only the (at most ``2**R``)
distinct masks reach the driver, with their docid and token counts: the pairwise figures
of :mod:`nag_spark.tracking.compare.tables` follow from those few rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Sequence

from ..errors import TableError

# Words in Spark/Hadoop errors that mean a data file listed by the Delta log is gone.
_MISSING_FILE_MARKERS = ("FileNotFound", "PATH_NOT_FOUND", "FILE_NOT_EXIST", "does not exist",
                         "No such file")


@dataclass
class SelectionRead:
    """One run's selection: ``frame`` (docid, token_num, dataset), its tokens by dataset
    and its row count (both from one small action that also proves its files exist)."""

    frame: "pyspark.sql.DataFrame"  # noqa: F821
    composition: dict[str, int]
    rows: int


def _read_error(where: str, exc: Exception) -> TableError:
    text = str(exc)
    if any(m in text for m in _MISSING_FILE_MARKERS):
        return TableError(
            f"{where} can no longer be read: its data files are gone (the table was vacuumed "
            f"after the run). Re-run the ranking or compare a run whose version still exists "
            f"({text.splitlines()[0][:300]})"
        )
    return TableError(f"{where} cannot be read: {text[:1000]}")


def _open_version(spark, path: str, version: int, where: str):
    from ..delta import read_table, table_version

    try:
        current = table_version(path, spark)
    except TableError as exc:
        raise TableError(f"{where}: the table cannot be opened: {exc}") from exc
    if version > current:
        raise TableError(f"{where}: the table's latest version is {current}")
    try:
        return read_table(spark, path, version)
    except TableError as exc:
        raise TableError(f"{where} no longer exists (log cleaned up?): {exc}") from exc
    except Exception as exc:  # Spark checks parquet paths eagerly: AnalysisException and friends
        raise _read_error(where, exc) from exc


def read_selection(spark, run) -> SelectionRead:
    """A rank run's selection table at the version it recorded, checked readable.

    ``run`` is a :class:`~nag_spark.tracking.compare.rank_runs.RankRun` (its
    ``output_path``, ``output_version``, ``label`` and ``run_id`` are used).

    Raises
    ------
    TableError
        The version is gone (log cleaned up, files vacuumed) or the table is no selection.
    """
    from pyspark.sql import functions as F

    where = f"selection table {run.output_path} at version {run.output_version} (run {run.label}, {run.run_id})"
    df = _open_version(spark, run.output_path, run.output_version, where)
    missing = {"docid", "token_num"} - set(df.columns)
    if missing:
        raise TableError(f"{where} has no column(s) {sorted(missing)}: not a selection table")
    ds = F.col("dataset").cast("string") if "dataset" in df.columns else F.lit("(none)")
    df = df.select(F.col("docid").cast("string").alias("docid"),
                   F.col("token_num").cast("long").alias("token_num"),
                   F.coalesce(ds, F.lit("(none)")).alias("dataset"))
    try:
        # One small action per run: its composition, and proof its files are still there.
        by_ds = df.groupBy("dataset").agg(F.count(F.lit(1)).alias("rows"),
                                          F.sum("token_num").alias("tokens")).collect()
    except Exception as exc:  # Spark's Delta reader finds missing files only when it reads
        raise _read_error(where, exc) from exc
    composition = {r["dataset"]: int(r["tokens"] or 0) for r in by_ds}
    return SelectionRead(df, composition, sum(int(r["rows"]) for r in by_ds))


def overlap_counts(spark, frames: Sequence) -> list[tuple[int, int, int]]:
    """``(mask, docids, tokens)`` for each distinct set of runs that selected a docid.

    ``frames`` are DataFrames with ``docid`` and ``token_num``; bit ``i`` of ``mask`` is
    set when ``frames[i]`` holds the docid. A docid's tokens are its largest ``token_num``
    (the same document in every run that shares a pool).
    """
    from pyspark.sql import functions as F

    tagged = [f.select("docid", "token_num", F.lit(1 << i).cast("long").alias("bit"))
              for i, f in enumerate(frames)]
    union = reduce(lambda a, b: a.unionByName(b), tagged)
    per_doc = union.groupBy("docid").agg(F.expr("bit_or(bit)").alias("mask"),
                                         F.max("token_num").alias("tokens"))
    rows = per_doc.groupBy("mask").agg(F.count(F.lit(1)).alias("docids"),
                                       F.sum("tokens").alias("tokens")).collect()
    return [(int(r["mask"]), int(r["docids"]), int(r["tokens"] or 0)) for r in rows]
