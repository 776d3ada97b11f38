"""Progress of a running extraction from live counts: documents done, docs/s and ETA.

Documents done = those of committed units plus those the running attempts report in their
heartbeats after model batches (at most once a second), so the count moves while tasks run,
not only when one finishes, and an ETA is known within the first minute.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ...logs import get_logger

# The package's logger: progress lines keep the name they always had.
log = get_logger("nag_spark.spark.extract")


@dataclass
class ProgressPoint:
    """One reading of the progress."""

    done: int
    total: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        if self.total is None or self.rate <= 0:
            return float("nan")
        return max(0.0, (self.total - self.done) / self.rate)

    def line(self) -> str:
        """The log line.

        >>> ProgressPoint(50, 200, 10.0).line()
        'extract progress: 50/200 docs (25.0%), 5.00 docs/s, ETA 30s'
        >>> ProgressPoint(0, None, 10.0).line()
        'extract progress: 0/? docs, 0.00 docs/s, ETA unknown'
        """
        eta = f"{self.eta:.0f}s" if math.isfinite(self.eta) else "unknown"
        if self.total is None:
            return f"extract progress: {self.done}/? docs, {self.rate:.2f} docs/s, ETA {eta}"
        done = min(self.done, self.total)
        pct = 100.0 * done / self.total if self.total else 100.0
        return f"extract progress: {done}/{self.total} docs ({pct:.1f}%), {self.rate:.2f} docs/s, ETA {eta}"


class ExtractProgress:
    """Reads live counts (committed units + heartbeats) and logs a line every ``interval``.

    Parameters
    ----------
    total : int or None
        Input rows this run has to go through (None: unknown, JSONL without ``--limit``).
    committed : callable
        ``committed() -> int``: rows of the units committed so far.
    heartbeats : callable
        ``heartbeats() -> list of dict``: the running attempts' markers (``unit_id``,
        ``rows_in``).
    interval : float
        Seconds between two lines.
    record : callable, optional
        ``record(point)`` is also called for every line (the MLflow run's metrics).
    """

    def __init__(self, total, committed, heartbeats, interval: float, record=None):
        self.total, self.committed, self.heartbeats = total, committed, heartbeats
        self.interval, self.record = interval, record
        self.start = time.perf_counter()
        self._last = self.start

    def point(self) -> ProgressPoint:
        running: dict[str, int] = {}
        for beat in self.heartbeats():
            running[beat["unit_id"]] = max(running.get(beat["unit_id"], 0), int(beat["rows_in"]))
        return ProgressPoint(self.committed() + sum(running.values()), self.total,
                             time.perf_counter() - self.start)

    def line(self) -> str:
        return self.point().line()

    def tick(self, force: bool = False) -> None:
        """Log a line when ``interval`` seconds have passed since the last one."""
        now = time.perf_counter()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        point = self.point()
        log.info(point.line())
        if self.record is not None:
            self.record(point)
