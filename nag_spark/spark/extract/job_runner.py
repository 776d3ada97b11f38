"""Running the pending units as one Spark job while the driver commits what finishes.

All pending units go to Spark at once, one task each, so every task slot stays busy until
the last units run; a side thread waits for the job while the driver thread polls the done
markers, commits them (:class:`.committer.UnitCommitter`) and logs progress. The busy share
(time the task slots spent extracting, over slots × the job's wall time) is measured from
the attempts' own start and end times.
"""
from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass

from ...logs import get_logger
from .committer import CommitTally, UnitCommitter
from .job_files import JobFiles, _read_json, job_of_file
from .gpu_stage import task_slots
from .progress import ExtractProgress

log = get_logger("nag_spark.spark.extract")

POLL_SECONDS = 1.0
# Spark's spark.python.task.killTimeout (2 s by default) plus a margin: how long a killed
# task's Python worker may still run.
PYTHON_KILL_WAIT_S = 2.5
# A job on another host cannot be probed; after this long its leftovers are removed.
STALE_AFTER_S = 24 * 3600


@dataclass
class RunOutcome:
    tally: CommitTally
    busy_share: float
    job_seconds: float


def _alive(owner: dict | None, mtime: float) -> bool:
    if owner is None:
        return time.time() - mtime < STALE_AFTER_S
    if owner.get("host") == socket.gethostname():
        try:
            os.kill(int(owner.get("pid", -1)), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError):
            return True
        return True
    return time.time() - float(owner.get("created", 0)) < STALE_AFTER_S


def remove_dead_jobs(table_dir: str, committed: set) -> int:
    """Delete what extraction jobs that died left behind: their staging folders and their
    data files that no commit references. Returns how many jobs were cleaned up."""
    from ...delta.location import STAGING

    area = os.path.join(table_dir, STAGING)
    dead = []
    for name in sorted(os.listdir(area)) if os.path.isdir(area) else []:
        folder = os.path.join(area, name)
        if name.startswith("j") and os.path.isdir(folder) and not _alive(
                _read_json(os.path.join(folder, "owner.json")), os.path.getmtime(folder)):
            dead.append(name)
    if not dead:
        return 0
    for name in os.listdir(table_dir):
        if job_of_file(name) in dead and name not in committed:
            os.remove(os.path.join(table_dir, name))
    for name in dead:
        shutil.rmtree(os.path.join(area, name), ignore_errors=True)
    log.info("removed the leftovers of %d extraction job(s) that did not finish", len(dead))
    return len(dead)


def _sweep(job: JobFiles, committed: set) -> None:
    """This job's own leftovers: files of attempts that failed or lost, the staging folder."""
    for name in os.listdir(job.table_dir):
        if job_of_file(name) == job.job_id and name not in committed:
            os.remove(os.path.join(job.table_dir, name))
    shutil.rmtree(job.staging, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(job.staging))  # only when no other job is using it
    except OSError:
        pass


def _wait_for_cancelled_tasks(sc, group: str, timeout: float = 60.0) -> None:
    """Wait until the cancelled job's tasks are gone, so that no attempt writes a data
    file after :func:`_sweep` (nothing would ever remove it: its job's staging is gone).

    The job fails at once on cancel, its tasks a little later; a task's Python worker may
    run up to ``spark.python.task.killTimeout`` past its task before Spark kills it.
    """
    tracker, deadline = sc.statusTracker(), time.time() + timeout
    while time.time() < deadline:
        active = 0
        for job_id in tracker.getJobIdsForGroup(group):
            info = tracker.getJobInfo(job_id)
            for stage_id in info.stageIds if info else ():
                stage = tracker.getStageInfo(stage_id)
                active += stage.numActiveTasks if stage else 0
        if not active:
            break
        time.sleep(0.2)
    time.sleep(PYTHON_KILL_WAIT_S)


def _submit(spark, pending, config, job: JobFiles, skip, state: dict):
    from pyspark import InheritableThread

    from .gpu_stage import extraction_stage
    from .worker import extract_unit

    sc = spark.sparkContext
    skipped = sc.broadcast(skip) if skip else None
    items = [(unit, done) for unit, done, _ in pending]
    group = f"nag-extract-{job.job_id}"

    def body():
        sc.setJobGroup(group, f"nag-spark extraction: {len(items)} work units", interruptOnCancel=True)
        try:
            # The stage asks for GPUs only when planned for them (gpu_stage's module doc).
            stage = extraction_stage(sc, config)
            state["slots"] = stage.slots
            state["results"] = stage.collect(sc, items, lambda item: extract_unit(
                item[0], item[1], config, job, skipped.value if skipped is not None else frozenset()))
        except BaseException as exc:  # noqa: BLE001 - re-raised by the driver thread
            state["error"] = exc

    thread = InheritableThread(target=body, daemon=True)
    thread.start()
    return thread, group


def run_units(spark, plan, table, config, skip, run_id: str | None, record=None) -> RunOutcome:
    """Extract and commit every pending unit of ``table`` (a FeaturesTableState)."""
    from ...delta.txn_append import TxnAppender

    remove_dead_jobs(table.table_dir, set(TxnAppender(table.output).files()))
    job = JobFiles(table.table_dir, "j" + uuid.uuid4().hex[:10]).create()
    committer = UnitCommitter(table.output, job, {u.unit_id: v for u, _, v in table.pending},
                              {"job": "extract", "mlflow_run_id": run_id or "", "job_id": job.job_id},
                              base_version=table.version)
    progress = ExtractProgress(table.total_rows, lambda: committer.tally.rows_in, job.heartbeats,
                               plan.options.progress_seconds, record)
    if not table.pending:
        _sweep(job, set())
        return RunOutcome(committer.tally, 1.0, 0.0)
    state: dict = {}
    started = time.perf_counter()
    thread, group = _submit(spark, table.pending, config, job, skip, state)
    try:
        while thread.is_alive():
            committer.poll()
            progress.tick()
            thread.join(POLL_SECONDS)
        committer.poll()  # what finished last, and what finished before a failure
    except BaseException:
        spark.sparkContext.cancelJobGroup(group)
        thread.join(60)
        _wait_for_cancelled_tasks(spark.sparkContext, group)
        raise
    finally:
        # What the table references is never swept, whatever the tally knows: a signal
        # (SIGTERM, Ctrl-C) may stop the driver between a commit and its bookkeeping.
        _sweep(job, committer.tally.committed_files | set(TxnAppender(table.output).files()))
    seconds = time.perf_counter() - started
    progress.tick(force=True)
    if "error" in state:
        raise state["error"]
    slots = max(1, state.get("slots") or task_slots(spark.sparkContext))
    busy = committer.tally.busy_seconds / (slots * seconds) if seconds > 0 else 1.0
    return RunOutcome(committer.tally, min(1.0, busy), seconds)
