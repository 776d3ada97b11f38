"""Table properties and commit metadata shared by both writers."""
from __future__ import annotations

import json
from typing import Mapping

from ..errors import LineageMismatchError, TableError

# commitInfo keys a writer generates itself; a caller's values for these go to
# userMetadata only, never over the engine's own.
_RESERVED_COMMIT_KEYS = {"timestamp", "operation", "operationParameters", "engineInfo",
                         "readVersion", "isolationLevel", "isBlindAppend", "userId",
                         "userName", "userMetadata", "clientVersion", "version"}


def as_str_dict(values: Mapping | None) -> dict[str, str]:
    """Copy with string keys and values (Delta properties and our commit info are strings)."""
    return {str(k): str(v) for k, v in (values or {}).items()}


def check_lineage(existing: Mapping[str, str], wanted: Mapping[str, str], table: str) -> None:
    """Refuse an append whose properties disagree with the table's.

    A key the table lacks counts as a disagreement too: appending features of a known
    model to a table that does not say which model it holds would mix lineages silently.

    The kind of table and, for features, its neuron types are checked first: a table of
    another kind (or none at all: not written by nag-spark) or of other neuron types is
    named as such, not by whichever side property happens to differ first.

    Raises
    ------
    LineageMismatchError
        Naming the problem, or the first differing key, both values and the table.
    """
    _check_kind_and_types(existing, wanted, table)
    for key in sorted(wanted):
        have = existing.get(key)
        if have != wanted[key]:
            shown = repr(have) if have is not None else "absent"
            raise LineageMismatchError(
                f"table {table}: property {key!r} is {shown} in the table but "
                f"{wanted[key]!r} for this write; it holds data of another lineage "
                "(write to a new path or overwrite it); nothing was written"
            )


def _check_kind_and_types(existing: Mapping[str, str], wanted: Mapping[str, str], table: str) -> None:
    from ..tables.features import KIND_KEY, property_key

    kind = wanted.get(KIND_KEY)
    if kind is not None and existing.get(KIND_KEY) != kind:
        have = existing.get(KIND_KEY)
        what = (f"a {have} table" if have else
                f"a Delta table nag-spark did not write (it has no property {KIND_KEY!r}: "
                "an input table, perhaps?)")
        raise LineageMismatchError(f"table {table} is {what}, not a {kind} table; write to a "
                                   "new path; nothing was written")
    types_key = property_key("neuron_types")
    if types_key in wanted and existing.get(types_key) not in (None, wanted[types_key]):
        raise LineageMismatchError(
            f"table {table} holds NAGs of neuron types {existing[types_key]!r}, but this run "
            f"extracts {wanted[types_key]!r}: one table holds one set of neuron types; write "
            "to a new path; nothing was written")


def required_property(props: Mapping[str, str], key: str, table: str) -> str:
    """``props[key]`` of a features table, or a TableError saying its lineage is missing."""
    if key not in props:
        raise TableError(f"features table {table} has no property {key!r}: it was not written "
                         "by jobs/extract.py (or its lineage was lost)")
    return props[key]


def user_metadata(commit_info: Mapping[str, str] | None) -> str | None:
    """The commit's ``userMetadata``: the caller's commit info as compact, sorted JSON."""
    info = as_str_dict(commit_info)
    return json.dumps(info, sort_keys=True, separators=(",", ":")) if info else None


def commit_info_fields(commit_info: Mapping[str, str] | None) -> dict[str, str]:
    """Caller keys that may also appear at the top level of ``commitInfo``."""
    return {k: v for k, v in as_str_dict(commit_info).items() if k not in _RESERVED_COMMIT_KEYS}
