"""What every ``jobs/*.py`` entry point shares: comma lists, defaults from the options
object, and one way to end (a :class:`~nag_spark.errors.NagError` prints one line, exit 2).

A job file starts with ``sys.path.insert(0, <checkout>)`` (a checkout run as
``python jobs/x.py`` finds the package without installing it) and ends with
``sys.exit(run_job(main_body, argv))``.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Callable, Iterable, Sequence

from .errors import NagError


def comma_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Split ``"a, b,,c"`` into ``('a', 'b', 'c')``: items stripped, empties dropped.

    >>> comma_list(" a, b,,c ")
    ('a', 'b', 'c')
    >>> comma_list(None)
    ()
    >>> comma_list(["x ", "y,z"])
    ('x', 'y', 'z')
    """
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    return tuple(p.strip() for p in parts if p.strip())


def default_of(options_cls, name: str):
    """The default of field ``name`` of a frozen options dataclass (argparse defaults come
    from the options object, so each default is written once).

    >>> @dataclasses.dataclass(frozen=True)
    ... class O:
    ...     top_k: int = 20
    >>> default_of(O, "top_k")
    20
    """
    for f in dataclasses.fields(options_cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                return f.default_factory()  # type: ignore[misc]
            raise KeyError(f"{options_cls.__name__}.{name} has no default")
    raise KeyError(f"{options_cls.__name__} has no field {name!r}")


def run_job(body: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a job's body; a NagError becomes ``error: <message>`` on stderr and exit 2.

    Anything else is a bug and keeps its traceback.
    """
    try:
        return body(argv)
    except NagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
