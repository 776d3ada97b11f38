"""Where a table lives: a filesystem path/URI, or a ``catalog.schema.table`` name.

A path without a scheme is a path on a filesystem this driver can see (a local disk or a
shared mount that the executors see too); Spark gets it as a ``file://`` URI so a cluster
whose default filesystem is HDFS does not reinterpret it. Paths with a scheme (``s3://``,
``gs://``, ``hdfs://``...) go to Spark and delta-rs unchanged.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import TableError

# Unity Catalog style three-part names; two-part names would be ambiguous with relative
# paths such as ``features.delta``.
_IDENT = r"(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_TABLE_NAME = re.compile(rf"^{_IDENT}\.{_IDENT}\.{_IDENT}$")

# Directory names Delta readers skip and that we may find in a table we own.
DELTA_LOG = "_delta_log"
STAGING = "_nag_staging"


def is_table_name(ref: str) -> bool:
    """True for ``catalog.schema.table`` (not an existing path).

    >>> is_table_name("main.nag.features"), is_table_name("/data/features")
    (True, False)
    """
    return bool(_TABLE_NAME.match(ref)) and not os.path.exists(ref)


@dataclass(frozen=True)
class Location:
    """A table path seen by the three parties that touch it.

    Attributes
    ----------
    uri : str
        What delta-rs is given (an absolute local path, or the URI as given).
    spark_uri : str
        What Spark reads and writes (``file://`` for local paths).
    local : bool
        Whether it is a local filesystem path (``os`` operations apply).
    """

    uri: str
    spark_uri: str
    local: bool

    @classmethod
    def parse(cls, path: str | os.PathLike) -> "Location":
        text = os.fspath(path)
        parsed = urlparse(text)
        if parsed.scheme == "file":
            local = os.path.abspath(parsed.path)
            return cls(local, "file://" + local, True)
        if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
            return cls(text.rstrip("/"), text.rstrip("/"), False)
        local = os.path.abspath(os.path.expanduser(text))
        return cls(local, "file://" + local, True)

    def filesystem(self):
        """``(pyarrow FileSystem, path inside it)`` of the table root."""
        from pyarrow import fs

        if self.local:
            return fs.LocalFileSystem(), self.uri
        try:
            return fs.FileSystem.from_uri(self.uri)
        except Exception as exc:  # pyarrow raises ArrowInvalid/NotImplemented variously
            raise TableError(f"cannot open filesystem for {self.uri}: {exc}") from exc

    def child_uri(self, relative: str) -> str:
        """Spark URI of a path inside the table."""
        return self.spark_uri.rstrip("/") + "/" + relative.lstrip("/")


def check_delta_or_free(location: Location) -> bool:
    """Return whether a Delta table is at ``location``; raise if something else is there.

    A missing path or an empty directory is free. A directory whose only content is our own
    staging area (a crashed first write) is free too: the staging cleanup owns it.

    Raises
    ------
    TableError
        The path is a file, or a non-empty directory without ``_delta_log``.
    """
    from pyarrow import fs as pafs

    filesystem, root = location.filesystem()
    info = filesystem.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return False
    if info.type != pafs.FileType.Directory:
        raise TableError(
            f"{location.uri} is a file, not a Delta table directory; nothing was written"
        )
    entries = filesystem.get_file_info(pafs.FileSelector(root, recursive=False))
    names = {os.path.basename(e.path.rstrip("/")) for e in entries}
    if DELTA_LOG in names:
        return True
    if not names or STAGING in names:
        return False
    shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    raise TableError(
        f"{location.uri} is not a Delta table (no {DELTA_LOG} folder) and is not empty "
        f"({shown}); refusing to write there, nothing was touched"
    )
