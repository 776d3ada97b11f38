"""Idempotent appends of already written files, keyed by Delta transaction identifiers.

Delta's ``txn`` action (``appId``, ``version``) records, in the same atomic commit as the
data, that an application has written its step ``version``. Both delta-rs and Spark's
Delta writer read it back (``transaction_version`` / ``txnAppId`` + ``txnVersion``) and
refuse a concurrent commit of the same ``appId``, so a step committed once can never be
committed again: not by a retried task, a speculative one, a re-run after a crash, nor a
second job working on the same input at the same time.

:class:`TxnAppender` commits parquet files that tasks already wrote into the table folder.
With delta-rs each commit is tried on exactly the version the caller last looked at
(no silent rebase): when another writer got there first, :class:`TableMoved` says so, and
the caller looks at what the other writer added before trying again. That is what lets
extraction refuse a docid that another job committed in the meantime.
"""
from __future__ import annotations

import json
import os
import time
from typing import Iterable, Sequence

from ..errors import TableError
from ..logs import get_logger
from .lineage import commit_info_fields, user_metadata
from .location import Location

log = get_logger(__name__)


class TableMoved(Exception):
    """Another commit landed since the appender's version; nothing of ours was written."""


def create_table(path: str, spark_schema, properties: dict, commit_info: dict | None = None) -> int:
    """Create an empty Delta table (schema and properties in version 0) with delta-rs.

    Always delta-rs, whichever writer the session uses: the table then carries only the
    protocol features delta-rs can append to, which :class:`TxnAppender` needs.
    """
    import pyarrow as pa
    from deltalake import DeltaTable
    from deltalake.transaction import CommitProperties
    from pyspark.sql.pandas.types import to_arrow_schema

    from .lineage import as_str_dict

    schema = pa.schema([f.with_nullable(True) for f in to_arrow_schema(spark_schema, timezone="UTC")])
    custom = commit_info_fields(commit_info)
    meta = user_metadata(commit_info)
    if meta:
        custom["userMetadata"] = meta
    location = Location.parse(path)
    try:
        DeltaTable.create(location.uri, schema, mode="error", configuration=as_str_dict(properties),
                          raise_if_key_not_exists=False,
                          commit_properties=CommitProperties(custom_metadata=custom))
    except Exception as exc:  # noqa: BLE001 - another job may have created it just now
        from .deltars_writer import open_table

        if open_table(location) is None:
            raise TableError(f"cannot create Delta table {location.uri}: {exc}") from exc
    return 0


class TxnAppender:
    """Appends to one existing Delta table with transaction identifiers (delta-rs).

    Parameters
    ----------
    path : str
        A local table path (the files to commit are inside it).
    version : int, optional
        Start from this version (default: the latest), e.g. the one a job planned on, so
        that its first commit is refused (:class:`TableMoved`) if anything landed since.
    """

    def __init__(self, path: str, version: int | None = None):
        from .deltars_writer import arrow_schema, require_table

        self.location = Location.parse(path)
        self.table = require_table(self.location, version)
        self.schema = arrow_schema(self.table)
        self.version = int(self.table.version())

    def refresh(self) -> int:
        """Catch up with commits made by others; returns the new version."""
        self.table.update_incremental()
        self.version = int(self.table.version())
        return self.version

    def committed(self, app_id: str) -> int | None:
        """The last committed version of ``app_id`` (None: never)."""
        return self.table.transaction_version(app_id)

    def files(self) -> list[str]:
        """Paths (relative to the table) of the current version's data files."""
        return [str(p) for p in self.table.get_add_actions(flatten=True).column("path").to_pylist()]

    def added_since(self, version: int) -> list[tuple[int, str, dict]]:
        """``(version, relative path, commitInfo)`` of every file added after ``version``."""
        out = []
        log_dir = os.path.join(self.location.uri, "_delta_log")
        for v in range(version + 1, self.version + 1):
            info, adds = {}, []
            with open(os.path.join(log_dir, f"{v:020d}.json"), encoding="utf-8") as fh:
                for line in fh:
                    action = json.loads(line)
                    info = action.get("commitInfo", info)
                    if "add" in action:
                        adds.append(action["add"]["path"])
            out += [(v, p, info) for p in adds]
        return out

    def _add_action(self, relative: str):
        import pyarrow.parquet as pq
        from deltalake.transaction import AddAction

        from .stats import stats_json

        full = os.path.join(self.location.uri, relative)
        meta = pq.ParquetFile(full).metadata
        return AddAction(path=relative, size=os.path.getsize(full), partition_values={},
                         modification_time=int(time.time() * 1000), data_change=True,
                         stats=stats_json(meta, meta.schema.to_arrow_schema()))

    def append(self, files: Sequence[str], txns: Iterable[tuple[str, int]],
               commit_info: dict | None = None) -> int:
        """Commit ``files`` and ``txns`` as one version on top of :attr:`version`.

        Raises
        ------
        TableMoved
            Another writer committed first: nothing was written; :meth:`refresh`, look at
            :meth:`added_since` and :meth:`committed`, and try again.
        TableError
            Any other commit failure (the table is unchanged).
        """
        from deltalake.exceptions import CommitFailedError
        from deltalake.transaction import CommitProperties, Transaction

        custom = commit_info_fields(commit_info)
        meta = user_metadata(commit_info)
        if meta:
            custom["userMetadata"] = meta
        props = CommitProperties(custom_metadata=custom, max_commit_retries=0,
                                 app_transactions=[Transaction(a, int(v)) for a, v in txns])
        adds = [self._add_action(f) for f in files]
        try:
            self.table.create_write_transaction(adds, "append", self.schema, commit_properties=props)
        except CommitFailedError as exc:
            raise TableMoved(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - delta-rs errors: one clear line
            raise TableError(f"commit to {self.location.uri} failed: {exc}; the table is unchanged") from exc
        # retries=0: the commit landed exactly on the version we read. Load that version, not
        # the latest: later commits of others must go through added_since before ours.
        self.version += 1
        self.table.load_as_version(self.version)
        return self.version
