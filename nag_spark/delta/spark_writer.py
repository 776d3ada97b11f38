"""Delta tables through Spark's own Delta reader/writer (the Delta jars are on the classpath).

Kept thin on purpose: this path cannot run where the jars are missing (this project's
default machines), so it only maps the interface onto ``format("delta")``, SQL ``CREATE
TABLE ... TBLPROPERTIES ... AS SELECT`` (properties and data in one commit, as the delta-rs
writer does) and ``MERGE`` for insert-if-absent. ``target`` is a path URI or a
``catalog.schema.table`` name.
"""
from __future__ import annotations

import uuid

from ..errors import TableError
from .lineage import as_str_dict, check_lineage, user_metadata

_USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def _ident(target: str, is_name: bool) -> str:
    return target if is_name else f"delta.`{target}`"


def _sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read(spark, target: str, is_name: bool, version: int | None = None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", int(version))
    return reader.table(target) if is_name else reader.load(target)


def table_exists(spark, target: str, is_name: bool) -> bool:
    if is_name:
        return spark.catalog.tableExists(target)
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, target)


def table_properties(spark, target: str, is_name: bool) -> dict[str, str]:
    rows = spark.sql(f"SHOW TBLPROPERTIES {_ident(target, is_name)}").collect()
    return {r["key"]: r["value"] for r in rows}


def table_version(spark, target: str, is_name: bool) -> int:
    row = spark.sql(f"DESCRIBE HISTORY {_ident(target, is_name)} LIMIT 1").collect()
    if not row:
        raise TableError(f"no Delta table at {target}")
    return int(row[0]["version"])


def _user_metadata(spark, commit_info):
    """The session's commit userMetadata set for one write, restored afterwards."""
    from ..session import session_conf

    value = user_metadata(commit_info)
    return session_conf(spark, {_USER_METADATA_CONF: value} if value else {})


def write(df, target: str, is_name: bool, *, mode: str, properties=None, commit_info=None,
          partition_by=None) -> tuple[int, int | None]:
    """Write as one Delta commit; returns ``(version, rows or None)``."""
    spark = df.sparkSession
    properties = as_str_dict(properties)
    exists = table_exists(spark, target, is_name)
    if exists and mode == "error":
        raise TableError(f"Delta table {target} already exists (mode='error')")
    with _user_metadata(spark, commit_info):
        if exists and mode == "append":
            check_lineage(table_properties(spark, target, is_name), properties, target)
            writer = df.write.format("delta").mode("append")
            writer.saveAsTable(target) if is_name else writer.save(target)
        else:
            view = f"nag_delta_src_{uuid.uuid4().hex}"
            df.createOrReplaceTempView(view)
            try:
                verb = "CREATE OR REPLACE TABLE" if exists else "CREATE TABLE"
                parts = f" PARTITIONED BY ({', '.join(partition_by)})" if partition_by else ""
                props = ""
                if properties:
                    props = " TBLPROPERTIES (" + ", ".join(
                        f"{_sql_str(k)} = {_sql_str(v)}" for k, v in properties.items()) + ")"
                spark.sql(f"{verb} {_ident(target, is_name)} USING DELTA{parts}{props} "
                          f"AS SELECT * FROM {view}")
            finally:
                spark.catalog.dropTempView(view)
    return table_version(spark, target, is_name), None


def merge_insert(df, target: str, is_name: bool, key: str, commit_info=None) -> tuple[int | None, int]:
    """MERGE the rows whose key is not in the table yet; ``(version or None, rows inserted)``."""
    from delta.tables import DeltaTable

    spark = df.sparkSession
    table = DeltaTable.forName(spark, target) if is_name else DeltaTable.forPath(spark, target)
    before = table_version(spark, target, is_name)
    with _user_metadata(spark, commit_info):
        (table.alias("t").merge(df.alias("s"), f"t.`{key}` = s.`{key}`")
         .whenNotMatchedInsertAll().execute())
    after = table_version(spark, target, is_name)
    if after == before:
        return None, 0
    metrics = table.history(1).collect()[0]["operationMetrics"] or {}
    return after, int(metrics.get("numTargetRowsInserted", 0))
