"""Two helpers the ranking and baseline-selection runs share around their Spark stages."""
from __future__ import annotations

import contextlib
import time


@contextlib.contextmanager
def timed(timings: dict[str, float], stage: str, since: float | None = None):
    """Add the seconds of the ``with`` block (from ``since``, if given) to ``timings[stage]``
    (a stage timed in two blocks gets their sum).

    >>> t = {}
    >>> with timed(t, "a"):
    ...     pass
    >>> with timed(t, "a"):
    ...     pass
    >>> list(t), t["a"] >= 0
    (['a'], True)
    """
    start = time.perf_counter() if since is None else since
    yield
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


@contextlib.contextmanager
def persisted(df, storage_level: str):
    """``df`` kept at ``storage_level`` while a selection reads it several times."""
    from pyspark import StorageLevel

    df = df.persist(getattr(StorageLevel, storage_level))
    try:
        yield df
    finally:
        df.unpersist()
