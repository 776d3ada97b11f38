"""One atomic Delta commit holding data *and* table properties, written into the log by hand.

delta-rs (1.6) accepts custom properties (``nag.*``) only through ``DeltaTable.create`` and
``alter.set_table_properties``, each a commit of its own: a new table with properties, or an
overwrite that changes them, would take two versions, and a reader (or a crash) between
them sees rows under properties that describe other rows. The Delta protocol itself has no
such limit: one commit may carry ``metaData`` (with the new ``configuration``), ``remove``
and ``add`` actions together. This module writes that commit.

Atomicity is the protocol's own: version ``N`` exists once ``_delta_log/N.json`` exists, and
the file is published with put-if-absent semantics. The commit is written to a temporary
file (in the writer's staging folder, on the same filesystem), flushed to disk, then
hard-linked to its final name: ``link`` fails if the name exists, so of two writers racing
for version ``N`` exactly one wins, whatever engine the other is (delta-rs publishes its
local commits the same way). The loser re-reads the table and tries version ``N + 1``.

Limits (the caller falls back to delta-rs's two commits, and logs why):

- local filesystems only: object stores need their own conditional put;
- tables whose writer protocol is at most 2 (no table features this module does not know,
  such as CHECK constraints, column mapping, deletion vectors, row tracking);
- schemas without ``timestamp_ntz`` on an existing table (that type needs a table feature).
"""
from __future__ import annotations

import json
import os
import time
import uuid
from urllib.parse import quote

from .. import __version__
from ..errors import TableError
from ..logs import get_logger
from .location import DELTA_LOG, Location

log = get_logger(__name__)

# Tries when another writer takes the version we aimed at (overwrites only).
MAX_ATTEMPTS = 20
# The protocol a new table gets (what delta-rs writes for the same table).
_PROTOCOL = {"minReaderVersion": 1, "minWriterVersion": 2}
_PROTOCOL_NTZ = {"minReaderVersion": 3, "minWriterVersion": 7,
                 "readerFeatures": ["timestampNtz"], "writerFeatures": ["timestampNtz"]}
# Properties an overwrite keeps from the table: Delta's own settings (retention, checkpoint
# interval...) belong to the table, not to the rows written.
_KEPT_PREFIX = "delta."


class VersionTaken(Exception):
    """Another writer published the version this commit aimed at; nothing was written."""


def schema_string(arrow_schema) -> str:
    """The Delta ``schemaString`` of an Arrow schema (delta-rs's own conversion)."""
    from deltalake import Schema

    return Schema.from_arrow(arrow_schema).to_json()


def new_configuration(table, properties: dict[str, str]) -> dict[str, str]:
    """The configuration an overwrite leaves: the table's ``delta.*`` settings, plus
    ``properties``. Every other key of the old rows goes: it described them, not the new.

    >>> class T:
    ...     def metadata(self):
    ...         return type("M", (), {"configuration": {"delta.logRetentionDuration": "x",
    ...                                                 "old.key": "1"}})()
    >>> new_configuration(T(), {"k": "v"})
    {'delta.logRetentionDuration': 'x', 'k': 'v'}
    """
    kept = {k: v for k, v in table.metadata().configuration.items() if k.startswith(_KEPT_PREFIX)}
    return {**kept, **properties}


def unusable_reason(location: Location, table, schema_json: str) -> str | None:
    """Why a hand-written commit cannot be used here (None: it can).

    Raises
    ------
    TableError
        An overwrite of a table marked ``delta.appendOnly``.
    """
    if not location.local:
        return "the table is not on a local filesystem"
    if table is None:
        return None
    protocol = table.protocol()
    if protocol.min_writer_version > 2 or protocol.min_reader_version > 1:
        return (f"the table's protocol (reader {protocol.min_reader_version}, writer "
                f"{protocol.min_writer_version}) has features this writer does not handle")
    if str(table.metadata().configuration.get("delta.appendOnly", "")).lower() == "true":
        raise TableError(f"Delta table {location.uri} is append-only (delta.appendOnly); "
                         "an overwrite would remove its files; nothing was written")
    if '"timestamp_ntz"' in schema_json:
        return "the schema has timestamp_ntz, which needs a table feature"
    return None


def _add_json(action) -> dict:
    # Paths in the log are URIs relative to the table root (the Delta spec): Spark's
    # partition folders may hold '%' escapes, which must themselves be escaped.
    return {"add": {"path": quote(action.path, safe="/="), "partitionValues": dict(action.partition_values),
                    "size": int(action.size), "modificationTime": int(action.modification_time),
                    "dataChange": bool(action.data_change), "stats": action.stats}}


def _removes(table, now_ms: int) -> list[dict]:
    import pyarrow as pa

    paths = pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()
    # The path exactly as the log spells it: a reader matches a remove to its add by it.
    return [{"remove": {"path": p, "deletionTimestamp": now_ms, "dataChange": True}} for p in paths]


def _metadata(table, schema_json: str, partition_by, configuration: dict, now_ms: int) -> dict:
    if table is None:
        meta = {"id": str(uuid.uuid4()), "name": None, "description": None, "createdTime": now_ms}
    else:
        old = table.metadata()
        meta = {"id": old.id, "name": old.name, "description": old.description,
                "createdTime": old.created_time}
    meta.update({"format": {"provider": "parquet", "options": {}}, "schemaString": schema_json,
                 "partitionColumns": list(partition_by or []), "configuration": configuration})
    return {"metaData": meta}


def _commit_info(table, mode: str, n_adds: int, n_removes: int, custom: dict, now_ms: int) -> dict:
    if table is None:
        operation = "CREATE TABLE AS SELECT" if n_adds else "CREATE TABLE"
        params = {"mode": "ErrorIfExists"}
    else:
        operation, params = "WRITE", {"mode": "Overwrite" if mode == "overwrite" else "Append"}
    info = {"timestamp": now_ms, "operation": operation, "operationParameters": params,
            "engineInfo": f"nag-spark/{__version__}", "isBlindAppend": False,
            "operationMetrics": {"num_added_files": n_adds, "num_removed_files": n_removes}}
    if table is not None:
        info["readVersion"] = int(table.version())
    info.update(custom)
    return {"commitInfo": info}


def _publish(log_dir: str, version: int, lines: list[dict], scratch: str) -> None:
    """Write the commit and make it version ``version``, or raise VersionTaken."""
    # A name no Delta reader takes for a commit, should a crash leave it behind.
    tmp = os.path.join(scratch, f"_nag_commit_{version}_{uuid.uuid4().hex[:8]}.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(line, separators=(",", ":")) for line in lines) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, os.path.join(log_dir, f"{version:020d}.json"))
    except FileExistsError:
        raise VersionTaken(version) from None
    finally:
        os.remove(tmp)
    fd = os.open(log_dir, os.O_RDONLY)
    try:
        os.fsync(fd)  # the new name survives a power cut, not only a process crash
    finally:
        os.close(fd)


def commit(location: Location, table, *, mode: str, arrow_schema, adds, partition_by,
           properties: dict[str, str], custom: dict, scratch: str) -> int:
    """Commit ``adds`` and the table's new properties as one version; returns it.

    Parameters
    ----------
    location : Location
        A local table.
    table : deltalake.DeltaTable or None
        The table as the writer found it (None: create it as version 0).
    mode : {"append", "overwrite"}
        ``overwrite`` removes every file live at the version the commit lands on.
    arrow_schema : pyarrow.Schema
        The table's schema after the commit.
    adds : list of deltalake.transaction.AddAction
        Files already moved into the table folder.
    properties : dict
        Table properties: a new table gets exactly these; an overwrite gets these plus the
        table's ``delta.*`` settings.
    custom : dict
        Extra ``commitInfo`` fields (the write id, ``userMetadata``...).
    scratch : str
        A folder of the writer's own on the table's filesystem, for the temporary file.

    Raises
    ------
    VersionTaken
        Creating: another writer created the table first (nothing was written).
    TableError
        An overwrite that lost the race :data:`MAX_ATTEMPTS` times.
    """
    from .deltars_writer import open_table

    log_dir = os.path.join(location.uri, DELTA_LOG)
    os.makedirs(log_dir, exist_ok=True)
    schema_json = schema_string(arrow_schema)
    for _ in range(MAX_ATTEMPTS):
        now = int(time.time() * 1000)
        removes = _removes(table, now) if table is not None and mode == "overwrite" else []
        config = dict(properties) if table is None else new_configuration(table, properties)
        lines = [_commit_info(table, mode, len(adds), len(removes), custom, now)]
        if table is None:
            lines.append({"protocol": _PROTOCOL_NTZ if '"timestamp_ntz"' in schema_json else _PROTOCOL})
        lines.append(_metadata(table, schema_json, partition_by, config, now))
        lines += removes + [_add_json(a) for a in adds]
        version = 0 if table is None else int(table.version()) + 1
        try:
            _publish(log_dir, version, lines, scratch)
            return version
        except VersionTaken:
            if table is None:
                raise
            log.info("version %d of %s was taken by another writer; retrying on top of it",
                     version, location.uri)
            table = open_table(location)
    raise TableError(f"commit to {location.uri} failed: {MAX_ATTEMPTS} other writers committed "
                     "first; the table is unchanged by this write")
