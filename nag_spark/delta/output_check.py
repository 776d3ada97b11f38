"""Checking where a job will write before it does any work.

A job that finds out after minutes of model work that its output is a file, a folder of
something else, one of its own inputs, or a place it may not write to has wasted the
work and, worse, may have written half of it. Every job calls one of these first, before
it loads a model or scans a table:

- :func:`check_table_output` for a Delta table it creates, appends to or overwrites;
- :func:`check_folder_output` for a folder of figures and reports.

Both raise :class:`~nag_spark.errors.TableError` naming the option and the path. Remote
URIs (``s3://``...) and catalog names are compared with the inputs but not probed: their
permissions are the store's to tell, at the first write.
"""
from __future__ import annotations

import os
import tempfile
from typing import Iterable, Sequence

from ..errors import TableError
from .location import DELTA_LOG, STAGING, Location, check_delta_or_free, is_table_name

# (option, path) of each input a job reads, for "the output is one of the inputs".
Inputs = Sequence[tuple[str, object]]


def _local(path) -> str | None:
    ref = os.fspath(path)
    if is_table_name(ref):
        return None
    location = Location.parse(ref)
    return os.path.realpath(location.uri) if location.local else None


def _same_or_inside(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def _check_not_an_input(option: str, path, inputs: Inputs) -> None:
    out = _local(path)
    for name, value in inputs:
        if value is None:
            continue
        if out is None:
            if os.fspath(value).rstrip("/") == os.fspath(path).rstrip("/"):
                raise TableError(f"{option} {path} is the input of {name}; write elsewhere")
            continue
        src = _local(value)
        if src is None:
            continue
        if out == src:
            raise TableError(f"{option} {path} is the input of {name} ({value}); writing "
                             "there would destroy what the job reads: write elsewhere")
        if _same_or_inside(out, src) and os.path.isdir(src):
            raise TableError(f"{option} {path} lies inside the input folder of {name} "
                             f"({value}); the job would read its own output: write elsewhere")
        if _same_or_inside(src, out):
            raise TableError(f"{option} {path} holds the input of {name} ({value}); "
                             "write elsewhere")


def write_problem(folder: str) -> str | None:
    """Why nothing can be created in the existing folder ``folder`` (None: it can).

    A real file is created and removed: permission bits say nothing for root, read-only
    mounts or ACLs, an attempt says it all.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".nag-write-check-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.remove(probe)
    return None


def _check_writable(option: str, path: str, local: str, *, must_create: bool) -> None:
    """``local`` exists (a folder) or is to be created under its nearest existing parent."""
    folder = local
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise TableError(f"{option} {path}: {folder} is a file, so no folder can be made "
                         "there; nothing was written")
    problem = write_problem(folder)
    if problem:
        what = "create" if folder != local or must_create else "write in"
        raise TableError(f"{option} {path}: cannot {what} {folder} ({problem}); nothing was "
                         "written. Give a location this job may write to")


def check_table_output(path, *, inputs: Inputs = (), option: str = "--output",
                       kind: str | None = None, kind_key: str | None = None) -> bool:
    """Refuse an output table location this job cannot or must not write; returns whether
    a Delta table is already there.

    Parameters
    ----------
    path : str or os.PathLike
    inputs : sequence of (option, path)
        What the job reads: the output may be none of them, nor inside or around one.
    option : str
        How the user named the output (for the message).
    kind, kind_key : str, optional
        An existing table must have property ``kind_key`` equal to ``kind`` (a features
        table for extraction, a selection for ranking): a job never appends to or
        overwrites another kind of table.

    Raises
    ------
    TableError
        A file; a non-empty folder that is not a Delta table; one of the inputs; a place
        the job cannot write; a Delta table of another kind.
    """
    _check_not_an_input(option, path, inputs)
    local = _local(path)
    if local is None:
        return False
    location = Location(local, "file://" + local, True)
    try:
        exists = check_delta_or_free(location)
    except TableError as exc:
        raise TableError(f"{option}: {exc}") from None
    except OSError as exc:  # a folder on the way this user may not enter
        raise TableError(f"{option} {path}: cannot look at it ({exc}); nothing was written. "
                         "Give a location this job may write to") from None
    _check_writable(option, str(path), local, must_create=not exists)
    if exists:
        for sub in (DELTA_LOG, STAGING):
            folder = os.path.join(local, sub)
            problem = os.path.isdir(folder) and write_problem(folder)
            if problem:
                raise TableError(f"{option} {path}: cannot write in {folder} ({problem}); "
                                 "nothing was written")
        if kind is not None and kind_key is not None:
            _check_kind(option, path, location, kind, kind_key)
    return exists


def _check_kind(option: str, path, location: Location, kind: str, kind_key: str) -> None:
    from .deltars_writer import open_table

    table = open_table(location)
    if table is None:
        return
    have = table.metadata().configuration.get(kind_key)
    if have == kind:
        return
    what = (f"a {have} table ({kind_key}={have})" if have else
            f"a Delta table that nag-spark did not write (no property {kind_key!r})")
    raise TableError(f"{option} {path} is {what}, not a {kind} table; this job writes only "
                     f"{kind} tables: give another path. Nothing was written")


def check_folder_output(path, *, inputs: Inputs = (), option: str = "--output") -> None:
    """Refuse a folder for figures and reports that is a file, a Delta table, one of the
    inputs, or not writable.

    Raises
    ------
    TableError
        Naming the option and the path.
    """
    _check_not_an_input(option, path, inputs)
    local = _local(path)
    if local is None:
        return
    if os.path.exists(local) and not os.path.isdir(local):
        raise TableError(f"{option} {path} is a file, not a folder; nothing was written")
    if os.path.isdir(os.path.join(local, DELTA_LOG)):
        raise TableError(f"{option} {path} is a Delta table; give a folder for the figures "
                         "and reports")
    _check_writable(option, str(path), local, must_create=False)


def input_pairs(**named: object) -> list[tuple[str, object]]:
    """``input_pairs(pool=p, targets=t)`` -> ``[("--pool", p), ("--targets", t)]`` (None
    values and DataFrames left out).

    >>> input_pairs(pool="/p", target_features=None)
    [('--pool', '/p')]
    """
    return [(f"--{k.replace('_', '-')}", v) for k, v in named.items()
            if isinstance(v, (str, os.PathLike))]


__all__: Iterable[str] = ["check_table_output", "check_folder_output", "write_problem",
                          "input_pairs"]
