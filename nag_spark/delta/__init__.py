"""Delta table layer: read, create, append, overwrite and insert-if-absent, one interface
over two writers.

Where Spark has the Delta jars (Databricks, ``--packages io.delta:delta-spark_2.13:...``),
Spark's own Delta reader/writer does the work (:mod:`.spark_writer`). Elsewhere Spark writes
the parquet files and the driver commits them with delta-rs (:mod:`.deltars_writer`). Both
produce a standard Delta table with the same schema, table properties and commit metadata.
The choice (:mod:`.writer_choice`) is automatic, overridable with
``--conf spark.nag.delta.writer=auto|spark|deltars`` or ``NAG_DELTA_WRITER``.

``path`` is a filesystem path or URI; with Spark's writer it may also be a Unity Catalog
``catalog.schema.table`` name.

Examples
--------
>>> from nag_spark.delta import write_table, read_table, insert_if_absent  # doctest: +SKIP
>>> v = write_table(df, "/data/features", properties={"nag.kind": "features"},
...                 commit_info={"job": "extract", "mlflow_run_id": run_id})  # doctest: +SKIP
>>> insert_if_absent(more, "/data/features", key="docid")  # doctest: +SKIP
(1, 120)
"""
from __future__ import annotations

import os
from typing import NamedTuple

from ..errors import InputError, TableError
from . import deltars_writer, spark_writer
from .lineage import as_str_dict, check_lineage
from .location import Location, check_delta_or_free, is_table_name
from .writer_choice import choose_writer, writer_for

__all__ = [
    "read_table", "read_snapshot", "Snapshot", "write_table", "insert_if_absent", "table_exists", "table_properties",
    "table_version", "writer_for", "choose_writer",
]

WRITE_MODES = ("append", "overwrite", "error")
# How many offending keys an error message shows.
_EXAMPLES = 5


def _target(spark, path) -> tuple[str, object, bool]:
    """``(writer, target, is_name)``: target is a Location (delta-rs) or a string (Spark)."""
    ref = os.fspath(path)
    name = is_table_name(ref)
    writer = writer_for(spark) if spark is not None else "deltars"
    if name:
        if writer != "spark":
            raise TableError(
                f"{ref!r} looks like a catalog.schema.table name; table names need Spark's "
                "Delta writer (Delta jars on the classpath). Give a path instead"
            )
        return writer, ref, True
    location = Location.parse(ref)
    return writer, (location.spark_uri if writer == "spark" else location), False


def read_table(spark, path, version: int | None = None):
    """The Delta table at ``path`` (its current version, or ``version``) as a DataFrame.

    An empty table gives an empty DataFrame with the table's schema.

    Raises
    ------
    TableError
        No Delta table there, or the version does not exist.
    """
    writer, target, is_name = _target(spark, path)
    if writer == "spark":
        return spark_writer.read(spark, target, is_name, version)
    return deltars_writer.read(spark, target, version)


class Snapshot(NamedTuple):
    """One version of a table: its data, the version number and the table's properties."""

    df: object
    version: int
    properties: dict[str, str]


def read_snapshot(spark, path) -> Snapshot:
    """The table at its current version, with that version number and its properties.

    The version is fixed before the data is read, so the version a job logs as its input
    is the one it read, even while another job commits to the table.

    Raises
    ------
    TableError
        No Delta table there.
    """
    writer, target, is_name = _target(spark, path)
    if writer == "spark":
        version = spark_writer.table_version(spark, target, is_name)
        return Snapshot(spark_writer.read(spark, target, is_name, version), version,
                        spark_writer.table_properties(spark, target, is_name))
    table = deltars_writer.require_table(target)
    return Snapshot(deltars_writer.read(spark, target, table=table), int(table.version()),
                    dict(table.metadata().configuration))


def write_table(df, path, *, mode: str = "append", properties: dict[str, str] | None = None,
                commit_info: dict[str, str] | None = None,
                partition_by: list[str] | None = None) -> int:
    """Write ``df`` to the Delta table at ``path`` as one new version; returns that version.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    path : str or os.PathLike
        Table path/URI (or ``catalog.schema.table`` with Spark's writer).
    mode : {"append", "overwrite", "error"}
        ``append`` creates the table when it does not exist; ``error`` refuses an existing
        table; ``overwrite`` replaces the data (and sets the given properties).
    properties : dict, optional
        Table properties (lineage). Appending with a value that differs from the table's
        raises :class:`~nag_spark.errors.LineageMismatchError` and writes nothing.
    commit_info : dict, optional
        E.g. ``{"job": "extract", "mlflow_run_id": "..."}``: stored in the commit's
        ``userMetadata`` (JSON) and, with the delta-rs writer, as ``commitInfo`` fields.
    partition_by : list of str, optional
        Partition columns of a new table (an append must agree with the table's).

    Raises
    ------
    TableError
        Something that is not a Delta table is at ``path``; schema mismatch; commit failure.
    """
    if mode not in WRITE_MODES:
        raise InputError(f"write mode {mode!r} is not one of {', '.join(WRITE_MODES)}")
    writer, target, is_name = _target(df.sparkSession, path)
    if writer == "spark":
        if not is_name:
            check_delta_or_free(Location.parse(os.fspath(path)))
        return spark_writer.write(df, target, is_name, mode=mode, properties=properties,
                                  commit_info=commit_info, partition_by=partition_by)[0]
    return deltars_writer.write(df, target, mode=mode, properties=properties,
                                commit_info=commit_info, partition_by=partition_by)[0]


def _check_keys(df, key: str) -> None:
    """Refuse rows without a key, or with a key that appears twice among them."""
    from pyspark.sql import functions as F

    if key not in df.columns:
        raise InputError(f"key column {key!r} is not in the data (columns: {', '.join(df.columns)})")
    nulls = df.filter(F.col(key).isNull()).limit(1).count()
    if nulls:
        raise InputError(f"key column {key!r} has null values; nothing was written")
    dups = (df.groupBy(key).count().filter(F.col("count") > 1)
            .orderBy(F.col("count").desc(), F.col(key)).limit(_EXAMPLES).collect())
    if dups:
        shown = ", ".join(f"{r[key]!r} ({r['count']}x)" for r in dups)
        raise InputError(
            f"duplicate values of key {key!r} in the rows to insert, e.g. {shown}; "
            "nothing was written"
        )


def insert_if_absent(df, path, key: str = "docid", *, properties: dict[str, str] | None = None,
                     commit_info: dict[str, str] | None = None) -> tuple[int | None, int]:
    """Append the rows of ``df`` whose ``key`` is not in the table yet.

    Re-running a job after a crash with the same input therefore adds only what is missing
    and never duplicates rows. A missing table is created.

    Returns
    -------
    tuple
        ``(new version, rows inserted)``; ``(None, 0)`` when every key was already there
        (no commit is made).

    Raises
    ------
    InputError
        ``key`` is missing, null, or repeated within ``df`` (examples are named).
    LineageMismatchError
        ``properties`` disagree with the table's.

    Notes
    -----
    With delta-rs the anti-join reads the version current when the insert starts; two
    inserts of the same new keys running at the same moment can both land. One writer per
    table (the usual job) is safe; Spark's writer uses MERGE and detects the conflict.
    """
    spark = df.sparkSession
    _check_keys(df, key)
    writer, target, is_name = _target(spark, path)
    wanted = as_str_dict(properties)
    if writer == "spark":
        if not is_name:
            check_delta_or_free(Location.parse(os.fspath(path)))
        if spark_writer.table_exists(spark, target, is_name):
            check_lineage(spark_writer.table_properties(spark, target, is_name), wanted, target)
            return spark_writer.merge_insert(df, target, is_name, key, commit_info)
        version, _ = spark_writer.write(df, target, is_name, mode="error", properties=wanted,
                                        commit_info=commit_info)
        return version, df.count()

    new_rows = df
    if check_delta_or_free(target) and deltars_writer.table_exists(target):
        table = deltars_writer.require_table(target)
        check_lineage(table.metadata().configuration, wanted, target.uri)
        existing = deltars_writer.read(spark, target)
        if key not in existing.columns:
            raise TableError(f"table {target.uri} has no key column {key!r}")
        new_rows = df.join(existing.select(key).distinct(), on=key, how="left_anti")
        new_rows = new_rows.select(*df.columns)
    return deltars_writer.write(new_rows, target, mode="append", properties=wanted,
                                commit_info=commit_info, skip_if_empty=True)


def table_exists(path, spark=None) -> bool:
    """Whether a Delta table is at ``path`` (a foreign directory is simply ``False``)."""
    writer, target, is_name = _target(spark, path)
    if writer == "spark":
        return spark_writer.table_exists(spark, target, is_name)
    return deltars_writer.table_exists(target)


def table_properties(path, spark=None) -> dict[str, str]:
    """The table's properties (Delta ``configuration``)."""
    writer, target, is_name = _target(spark, path)
    if writer == "spark":
        return spark_writer.table_properties(spark, target, is_name)
    return deltars_writer.table_properties(target)


def table_version(path, spark=None) -> int:
    """The table's current version."""
    writer, target, is_name = _target(spark, path)
    if writer == "spark":
        return spark_writer.table_version(spark, target, is_name)
    return deltars_writer.table_version(target)
