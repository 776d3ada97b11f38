"""Delta tables without Delta's jars: Spark writes parquet, the driver commits with delta-rs.

The executors write the data (distributed, as for any parquet write) into a private staging
folder; the driver reads each file's footer for the ``add`` action's statistics, moves the
files into the table and commits them as one Delta version. Reads list the version's files
from the log and hand them to ``spark.read.parquet``.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from ..errors import TableError
from ..logs import get_logger
from . import staging as st
from .deltars_commit import MAX_COMMIT_RETRIES, commit_adds, files_added_since
from .lineage import as_str_dict, check_lineage, commit_info_fields, user_metadata
from .location import Location, check_delta_or_free
from .stats import stats_json

log = get_logger(__name__)

# Reader features whose meaning a plain list of parquet files would get wrong.
_UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping"}
# Test hook: "<stage>:<marker file>" makes a write announce itself and wait there.
PAUSE_ENV = "NAG_DELTA_TEST_PAUSE"


def open_table(location: Location, version: int | None = None):
    """The ``deltalake.DeltaTable`` at ``location`` (None if there is no Delta table)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        if not DeltaTable.is_deltatable(location.uri):
            return None
    except OSError:  # e.g. the path is a plain file: certainly no table there
        return None
    try:
        return DeltaTable(location.uri, version=version)
    except TableNotFoundError:
        return None
    except Exception as exc:  # delta-rs raises DeltaError for a missing version, bad log...
        raise TableError(f"cannot open Delta table {location.uri}"
                         f"{f' at version {version}' if version is not None else ''}: {exc}") from exc


def require_table(location: Location, version: int | None = None):
    table = open_table(location, version)
    if table is None:
        raise TableError(f"no Delta table at {location.uri}")
    return table


def arrow_schema(table) -> pa.Schema:
    return pa.schema(table.schema().to_arrow())


def spark_schema(table):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema(table))


def check_readable(table, location: Location) -> None:
    """Refuse tables whose files a plain parquet reader would read wrongly."""
    features = set(table.protocol().reader_features or [])
    if features & _UNSUPPORTED_READER_FEATURES:
        raise TableError(
            f"Delta table {location.uri} uses {sorted(features & _UNSUPPORTED_READER_FEATURES)}; "
            "reading it needs Spark's Delta reader (start Spark with the Delta jars)"
        )


def read(spark, location: Location, version: int | None = None, table=None):
    """The table (or one of its versions, or the already opened ``table``) as a DataFrame."""
    table = table if table is not None else require_table(location, version)
    check_readable(table, location)
    schema = spark_schema(table)
    files = table.file_uris()
    if not files:
        return spark.createDataFrame([], schema)
    if location.local:
        files = ["file://" + f if f.startswith("/") else f for f in files]
    reader = spark.read.schema(schema)
    if table.metadata().partition_columns:
        # Partition values live in the folder names under the table root.
        reader = reader.option("basePath", location.spark_uri)
    return reader.parquet(*files)


def _delta_arrow_schema(df) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(df.schema, timezone="UTC")
    # Parquet files written by Spark read back as nullable whatever the DataFrame said, and
    # a later append from another source would otherwise clash on nullability alone.
    return pa.schema([f.with_nullable(True) for f in schema])


def _align_to_table(df, table, location: Location):
    """Reorder ``df``'s columns to the table's, refusing missing, extra or retyped ones."""
    wanted = spark_schema(table)
    have = {f.name: f.dataType for f in df.schema}
    missing = [f.name for f in wanted if f.name not in have]
    extra = [n for n in have if n not in {f.name for f in wanted}]
    if missing or extra:
        raise TableError(
            f"cannot append to {location.uri}: columns differ from the table's "
            f"(missing {missing}, not in the table {extra})"
        )
    for f in wanted:
        if have[f.name].simpleString() != f.dataType.simpleString():
            raise TableError(
                f"cannot append to {location.uri}: column {f.name!r} is "
                f"{have[f.name].simpleString()} but the table has {f.dataType.simpleString()}"
            )
    return df.select(*[f.name for f in wanted])


def _pause_for_tests(stage: str) -> None:
    value = os.environ.get(PAUSE_ENV, "")
    want, _, marker = value.partition(":")
    if want != stage:
        return
    with open(marker, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(600)


def add_actions(location: Location, files: list[st.StagedFile]):
    """``(AddAction, rows)`` per file, statistics from its footer (footers read in parallel)."""
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    filesystem, _ = location.filesystem()

    def one(f: st.StagedFile):
        info = filesystem.get_file_info(f.staged)
        with filesystem.open_input_file(f.staged) as handle:
            meta = pq.ParquetFile(handle).metadata
            stats = stats_json(meta, meta.schema.to_arrow_schema())
        action = AddAction(
            path=f.relative, size=info.size, partition_values=f.partition_values,
            modification_time=int(time.time() * 1000), data_change=True, stats=stats,
        )
        return action, meta.num_rows

    with ThreadPoolExecutor(max_workers=min(16, max(1, len(files)))) as pool:
        return list(pool.map(one, files))


def _custom_fields(commit_info, write_id: str) -> dict[str, str]:
    custom = commit_info_fields(commit_info)
    meta = user_metadata(commit_info)
    if meta:
        custom["userMetadata"] = meta
    custom[st.WRITE_ID_KEY] = write_id
    return custom


def _commit_properties(commit_info, write_id: str):
    from deltalake.transaction import CommitProperties

    return CommitProperties(custom_metadata=_custom_fields(commit_info, write_id),
                            max_commit_retries=MAX_COMMIT_RETRIES)


def _version_of(location: Location, write_id: str) -> int:
    table = require_table(location)
    for entry in table.history(limit=50):  # newest first; concurrent writers may be ahead
        if entry.get(st.WRITE_ID_KEY) == write_id:
            return int(entry["version"])
    return table.version()


def _prepare(df, location: Location, mode: str, properties: dict, partition_by):
    """``(table or None, df, partition columns, Arrow schema)`` after the checks of a write."""
    exists = check_delta_or_free(location)
    table = open_table(location) if exists else None
    if table is not None and mode == "error":
        raise TableError(f"Delta table {location.uri} already exists (mode='error')")
    partition_by = list(partition_by or [])
    if table is not None and mode == "append":
        check_lineage(table.metadata().configuration, properties, location.uri)
        table_parts = list(table.metadata().partition_columns)
        if partition_by and partition_by != table_parts:
            raise TableError(f"{location.uri} is partitioned by {table_parts}, not {partition_by}")
        return table, _align_to_table(df, table, location), table_parts, arrow_schema(table)
    missing = [c for c in partition_by if c not in df.columns]
    if missing:
        raise TableError(f"partition columns {missing} are not in the data ({df.columns})")
    return table, df, partition_by, _delta_arrow_schema(df)


def _spark_write(df, staging, partition_by) -> None:
    from ..session import session_conf

    # delta-rs reads only micros timestamps.
    with session_conf(df.sparkSession, {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}):
        writer = df.write.mode("errorifexists")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.parquet(staging.data_spark_uri)


def write(df, location: Location, *, mode: str, properties=None, commit_info=None,
          partition_by=None, skip_if_empty: bool = False) -> tuple[int | None, int]:
    """Write ``df`` as one new version; returns ``(version or None, rows written)``.

    Rows and properties land in that one version (:mod:`.log_commit`), so no reader ever
    sees rows under properties that describe others. ``skip_if_empty`` commits nothing
    when there are no rows (insert-if-absent).
    """
    properties = as_str_dict(properties)
    table, df, partition_by, schema = _prepare(df, location, mode, properties, partition_by)
    st.cleanup_stale(location, files_added_since(location))
    staging = st.Staging.create(location, table.version() if table is not None else None)
    moved = False
    try:
        _spark_write(df, staging, partition_by)
        files = staging.staged_files(partition_by)
        actions = add_actions(location, files)
        kept = [(f, a) for f, (a, n) in zip(files, actions) if n > 0]
        rows = sum(n for _, n in actions)
        _pause_for_tests("staged")
        if rows == 0 and skip_if_empty:
            return None, 0
        staging.move_into_table([f for f, _ in kept])
        moved = True
        _pause_for_tests("precommit")
        adds = [a for _, a in kept]
        props = _commit_properties(commit_info, staging.write_id)
        version = commit_adds(location, table, mode, schema, adds, partition_by, properties, props,
                              scratch=staging.root)
        moved = False  # committed: the moved files belong to the table now
        _pause_for_tests("postcommit")
        version = _version_of(location, staging.write_id) if version is None else version
        log.info("committed %d rows in %d files to %s as version %d (%s, delta-rs)",
                 rows, len(adds), location.uri, version, mode)
        return version, rows
    except Exception as exc:
        if moved:
            _discard_moved(location, staging, kept)
        from deltalake.exceptions import CommitFailedError, DeltaError

        if isinstance(exc, (CommitFailedError, DeltaError)):
            raise TableError(f"commit to {location.uri} failed ({mode}): {exc}; "
                             "the table is unchanged") from exc
        raise
    finally:
        staging.remove()


def _discard_moved(location: Location, staging, kept) -> None:
    """Delete files moved for a commit that did not happen (only those no commit holds)."""
    added = files_added_since(location)(staging.read_version)
    if added is None:
        return
    filesystem, root = location.filesystem()
    for f, _ in kept:
        if f.relative in added:
            continue
        try:
            filesystem.delete_file(f"{root.rstrip('/')}/{f.relative}")
        except FileNotFoundError:
            pass


def table_exists(location: Location) -> bool:
    return open_table(location) is not None


def table_properties(location: Location) -> dict[str, str]:
    return dict(require_table(location).metadata().configuration)


def table_version(location: Location) -> int:
    return int(require_table(location).version())
