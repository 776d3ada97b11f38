"""Committing files already inside the table folder with delta-rs, or by hand where
delta-rs would need two commits (:mod:`.log_commit`), and telling what a commit added.
"""
from __future__ import annotations

import json
import os
from urllib.parse import unquote

from ..logs import get_logger
from . import log_commit as lc
from .lineage import check_lineage
from .location import DELTA_LOG, Location

log = get_logger(__name__)

# delta-rs retries a conflicting append itself; appends never conflict logically.
MAX_COMMIT_RETRIES = 20


def files_added_since(location: Location):
    """``added(read_version)``: table-relative paths of every file a commit after
    ``read_version`` (None: since the table began) added, or None when the log no longer
    holds those commits (then nothing can be proven uncommitted).

    What a crashed writer moved into the table is deleted only when no commit references
    it (:func:`~nag_spark.delta.staging.cleanup_stale`): the files themselves decide, not
    the writer's id, which a commit may carry without its data (a create, then a crash).
    """
    def added(read_version):
        table = _open(location)
        if table is None:
            return set()
        filesystem, root = location.filesystem()
        out: set[str] = set()
        for v in range((-1 if read_version is None else int(read_version)) + 1, table.version() + 1):
            try:
                with filesystem.open_input_stream(f"{root.rstrip('/')}/{DELTA_LOG}/{v:020d}.json") as fh:
                    lines = fh.read().decode("utf-8").splitlines()
            except OSError:
                return None  # cleaned up by log retention (or a checkpoint-only log)
            for line in lines:
                action = json.loads(line) if '"add"' in line else {}
                if "add" in action:
                    out.add(unquote(action["add"]["path"]))
        return out
    return added


def _sets_properties(table, mode: str, properties: dict) -> bool:
    """Whether the commit must change the table's properties (or set a new table's)."""
    if not properties:
        return False
    if table is None:
        return True
    return mode == "overwrite" and \
        lc.new_configuration(table, properties) != dict(table.metadata().configuration)


def _created_by_another(location: Location, properties: dict):
    """The table another writer created while we tried to (it must agree with us)."""
    table = _open(location)
    if table is None:
        return None
    check_lineage(table.metadata().configuration, properties, location.uri)
    return table


def commit_adds(location, table, mode, schema, adds, partition_by, properties, commit_props,
                scratch: str | None = None) -> int | None:
    """Commit ``adds`` (files already inside the table folder) to ``location``.

    ``table`` is the open table or None to create it; ``schema`` an Arrow schema;
    ``scratch`` a folder of this writer on the table's filesystem. Returns the version when
    it is known without reading the history (a hand-written commit), else None.
    """
    from deltalake import Schema
    from deltalake.transaction import CommitProperties, create_table_with_add_actions

    commit_props = commit_props or CommitProperties(max_commit_retries=MAX_COMMIT_RETRIES)
    parts = partition_by or None
    if _sets_properties(table, mode, properties):
        reason = lc.unusable_reason(location, table, lc.schema_string(schema))
        if reason is None:
            try:
                return lc.commit(location, table, mode=mode, arrow_schema=schema, adds=adds,
                                 partition_by=partition_by, properties=properties,
                                 custom=dict(commit_props.custom_metadata or {}),
                                 scratch=scratch or os.path.join(location.uri, DELTA_LOG))
            except lc.VersionTaken:
                # Another writer created the table first: append to it if it agrees.
                table, mode = _created_by_another(location, properties), "append"
        else:
            return _two_commits(location, table, mode, schema, adds, parts, properties,
                                commit_props, reason)
    elif table is None:
        try:
            create_table_with_add_actions(location.uri, Schema.from_arrow(schema), adds,
                                          mode="error", partition_by=parts,
                                          commit_properties=commit_props)
            return None
        except Exception:
            table, mode = _created_by_another(location, properties), "append"
            if table is None:
                raise
    table.create_write_transaction(adds, mode, schema, partition_by=parts,
                                   commit_properties=commit_props)
    return None


def _two_commits(location, table, mode, schema, adds, parts, properties, commit_props, reason):
    """Where a hand-written commit cannot be used: properties and data in two versions."""
    from deltalake import DeltaTable

    log.warning("%s: table properties and data are committed as two versions (%s); a reader "
                "between them sees one without the other", location.uri, reason)
    if table is None:
        # delta-rs refuses non-"delta." keys in create_table_with_add_actions; only
        # DeltaTable.create can set them. Version 0 then holds schema and lineage.
        DeltaTable.create(location.uri, schema, mode="error", partition_by=parts,
                          configuration=properties, raise_if_key_not_exists=False,
                          commit_properties=commit_props)
        _require(location).create_write_transaction(adds, "append", schema, partition_by=parts,
                                                         commit_properties=commit_props)
        return None
    table.create_write_transaction(adds, mode, schema, partition_by=parts,
                                   commit_properties=commit_props)
    config = table.metadata().configuration
    changed = {k: v for k, v in properties.items() if config.get(k) != v}
    if changed:
        _require(location).alter.set_table_properties(
            changed, raise_if_not_exists=False, commit_properties=commit_props)
    return None




def _open(location: Location):
    from .deltars_writer import open_table

    return open_table(location)


def _require(location: Location):
    from .deltars_writer import require_table

    return require_table(location)
