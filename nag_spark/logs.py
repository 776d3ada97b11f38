"""One logging setup for jobs, notebooks and Spark workers.

Everything logs under the ``nag_spark`` logger so a user can raise or lower it in one place
(``NAG_LOG_LEVEL=DEBUG``). Worker processes call :func:`get_logger` too; their lines land in
the executor's stderr log.
"""
from __future__ import annotations

import logging
import os
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_configured = False


def get_logger(name: str = "nag_spark") -> logging.Logger:
    """A logger under ``nag_spark``, configured once per process to write to stderr."""
    global _configured
    root = logging.getLogger("nag_spark")
    if not _configured:
        if not root.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
            root.addHandler(handler)
        root.setLevel(os.environ.get("NAG_LOG_LEVEL", "INFO").upper())
        root.propagate = False
        _configured = True
    if name == "nag_spark" or name.startswith("nag_spark."):
        return logging.getLogger(name)
    return logging.getLogger(f"nag_spark.{name}")
