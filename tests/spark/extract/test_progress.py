"""Live progress (spark/extract/progress.py): counts move with every heartbeat, not only
when a unit is committed, an ETA comes with the first counts, and every line also goes to
the run's recorder (the MLflow metrics)."""
from __future__ import annotations

import logging
import math

import pytest

from nag_spark.spark.extract.progress import ExtractProgress, ProgressPoint


def test_done_counts_committed_rows_plus_the_best_attempt_of_each_running_unit():
    beats = [{"unit_id": "u1", "rows_in": 40}, {"unit_id": "u1", "rows_in": 64},  # two attempts
             {"unit_id": "u2", "rows_in": 10}]
    progress = ExtractProgress(1000, lambda: 200, lambda: beats, interval=30.0)
    point = progress.point()
    # A speculative copy of u1 does not count twice: the furthest attempt does.
    assert point.done == 200 + 64 + 10 and point.total == 1000
    assert point.rate > 0 and math.isfinite(point.eta)


def test_eta_from_the_rate_so_far():
    p = ProgressPoint(done=300, total=1200, elapsed=60.0)
    assert p.rate == 5.0 and p.eta == pytest.approx(180.0)
    assert "300/1200 docs (25.0%), 5.00 docs/s, ETA 180s" in p.line()
    assert math.isnan(ProgressPoint(0, 1200, 60.0).eta)                 # no rate yet
    assert "ETA unknown" in ProgressPoint(0, 1200, 60.0).line()
    assert "/?" in ProgressPoint(10, None, 5.0).line()                  # JSONL: total unknown
    # Heartbeats may run ahead of the planned total (rows re-read on a retry): never > 100%.
    assert "1200/1200 docs (100.0%)" in ProgressPoint(1300, 1200, 10.0).line()


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_ticks_log_and_record_at_the_interval():
    committed = {"rows": 0}
    recorded = []
    progress = ExtractProgress(100, lambda: committed["rows"], lambda: [], interval=3600.0,
                               record=recorded.append)
    # nag_spark's loggers do not propagate to the root (logs.py): listen on the package's.
    handler = _Lines()
    logger = logging.getLogger("nag_spark.spark.extract")
    logger.addHandler(handler)
    try:
        progress.tick()                 # within the interval: nothing
        committed["rows"] = 40
        progress.tick(force=True)
    finally:
        logger.removeHandler(handler)
    assert [p.done for p in recorded] == [40]
    lines = [line for line in handler.lines if "extract progress" in line]
    assert len(lines) == 1 and "40/100 docs (40.0%)" in lines[0]
    fast = ExtractProgress(100, lambda: 50, lambda: [], interval=0.0, record=recorded.append)
    fast.tick()
    fast.tick()
    assert [p.done for p in recorded] == [40, 50, 50]
