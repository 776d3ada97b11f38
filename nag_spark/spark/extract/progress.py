"""Progress lines of a running extraction: documents done, docs/s and ETA."""
from __future__ import annotations

import math
import threading
import time

from ...logs import get_logger

# The package's logger: progress lines keep the name they always had.
log = get_logger("nag_spark.spark.extract")


class ExtractProgress:
    """Logs documents done, docs/s and ETA every ``interval`` seconds from a side thread.

    Parameters
    ----------
    total : int
        Documents to do in this run.
    counter : object
        Anything with a ``value`` counting documents done: the Spark accumulator the
        workers add to.
    interval : float
        Seconds between two lines.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> progress = ExtractProgress(0, SimpleNamespace(value=0), interval=30.0)
    >>> progress.line()
    'extract progress: 0/0 docs (100.0%), 0.00 docs/s, ETA unknown'
    """

    def __init__(self, total: int, counter, interval: float):
        self.total, self.acc, self.interval = total, counter, interval
        self.start = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def done(self) -> int:
        return int(self.acc.value)

    def line(self) -> str:
        done = min(self.done(), self.total)
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        eta_text = f"{eta:.0f}s" if math.isfinite(eta) else "unknown"
        pct = 100.0 * done / self.total if self.total else 100.0
        return f"extract progress: {done}/{self.total} docs ({pct:.1f}%), {rate:.2f} docs/s, ETA {eta_text}"

    def _loop(self):
        while not self._stop.wait(self.interval):
            log.info(self.line())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
