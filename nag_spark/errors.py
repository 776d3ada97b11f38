"""Exceptions with messages that name the file, column or option at fault.

Jobs catch :class:`NagError` at the top, print its message without a traceback and exit 2,
so a user sees one clear line; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class NagError(Exception):
    """Base class of every error nag-spark raises on purpose."""


class ConfigError(NagError, ValueError):
    """A named profile, target or setting is missing or malformed."""


class InputError(NagError, ValueError):
    """Input data or an option is unusable: missing column, null text, duplicate docids..."""


class TableError(NagError):
    """A Delta table cannot be read or written as asked (not a Delta table, conflict...)."""


class LineageMismatchError(TableError):
    """Features come from another model, K, L, max_length or neuron type than expected."""
