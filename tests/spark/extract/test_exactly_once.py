"""Exactly once, end to end with the tiny model: every input docid lands in the features
table once, whatever kills, task failures and concurrent jobs happen on the way.

- Crashes: ``jobs/extract.py`` runs under ``spark-submit`` in its own session and the whole
  session (driver, JVM, Python daemon and workers) is SIGKILLed at each named point of the
  protocol (test hooks ``NAG_EXTRACT_TEST_PAUSE``: a task after its model load, a task
  mid-unit, the driver after a commit) and at a random moment while the workers start; one final run, which also has one task attempt fail (``NAG_EXTRACT_TEST_FAIL_ONCE``)
  and retried by Spark (``--master local[2,4]``: local mode retries only with a failure
  count). After every kill, ``deltalake`` and DuckDB read every version; no version holds a
  duplicate and none loses what an earlier one had.
- Concurrency: two extractions on one table at once, as two drivers in this process
  (each with its own job, committer and Delta snapshot) sharing the suite's Spark session.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark import InheritableThread

sys.path.insert(0, str(Path(__file__).parent))
from tiny_model import (REPO, assert_no_leftovers, assert_readable_at_every_version,  # noqa: E402
                        job_env, log_versions, tiny_model, write_docs)  # noqa: F401

from fault_fixtures import kill_session  # noqa: E402
from nag_spark.delta.location import STAGING  # noqa: E402
from nag_spark.errors import TableError  # noqa: E402
from nag_spark.spark.extract import ExtractOptions, run_extraction  # noqa: E402
from nag_spark.tables.nag_codec import index_rows  # noqa: E402
from nag_spark.spark.extract.job_files import FAIL_ONCE_ENV, PAUSE_ENV  # noqa: E402

SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")
# Short-lived test JVMs: the C1 compiler alone starts Spark about twice as fast here, and one
# shuffle partition keeps the input check from starting a task per default partition.
JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# 600 documents in units of 50 rows (12 units), two segments of 32 rows per unit.
JOB_ARGS = ["--chunk-docs", "50", "--batch-tokens", "256", "--max-length", "64", "--top-k", "4",
            "--dtype", "float32", "--no-mlflow"]


def _command(inp, out, model) -> list[str]:
    return [SPARK_SUBMIT, "--master", "local[2,4]", "--driver-java-options", JVM_OPTIONS,
            "--conf", "spark.sql.shuffle.partitions=1", "--conf", "spark.ui.enabled=false",
            "jobs/extract.py", "--input", str(inp), "--output", str(out), "--model", model, *JOB_ARGS]


def _start(cmd, log: Path, **env) -> subprocess.Popen:
    # spark-submit finds python3 on PATH (find-spark-home): the venv's bin first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with open(log, "w") as fh:
        return subprocess.Popen(cmd, cwd=REPO, env=job_env(PATH=path, **env), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(condition, proc, log: Path, what: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the job ended (exit {proc.returncode}) before {what}:\n"
                        f"{log.read_text()[-4000:]}")
        if time.time() > deadline:
            kill_session(proc)
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def _docids(table, version=None) -> list[str]:
    return DeltaTable(str(table), version=version).to_pyarrow_table(columns=["docid"]) \
        .column("docid").to_pylist()


def _assert_nothing_lost(table) -> None:
    """Every version holds every docid of the version before (appends only, no rewrite)."""
    previous: set = set()
    for v in log_versions(str(table)):
        now = set(_docids(table, v))
        assert previous <= now, f"version {v} lost {sorted(previous - now)[:5]}"
        previous = now


def test_sigkill_loop_then_one_run_with_a_task_retry_commits_every_docid_once(tmp_path, tiny_model):
    inp, out = tmp_path / "in", tmp_path / "feats"
    docs = write_docs(inp / "part-0.parquet", [f"doc-{i:04d}" for i in range(600)], row_group_size=200)
    cmd = _command(inp, out, tiny_model)
    rng = random.Random(1234)
    staging = out / STAGING

    def kill_at_stage(stage: str):
        marker = tmp_path / f"paused-{stage}"
        return {PAUSE_ENV: f"{stage}:{marker}"}, (lambda: marker.exists() and marker.read_text().strip()), \
            f"the pause at {stage!r}"

    def kill_while_workers_start():
        delay = rng.uniform(0.0, 1.5)
        state: dict = {}

        def ready():
            # The job's own staging folder appears just before its tasks are submitted
            # (a killed job's folder stays until the next job removes it).
            if "before" not in state:
                state["before"] = set(os.listdir(staging)) if staging.is_dir() else set()
            if not (set(os.listdir(staging)) if staging.is_dir() else set()) - state["before"]:
                return False
            state.setdefault("since", time.time())
            return time.time() - state["since"] >= delay
        return {}, ready, f"{delay:.2f}s after the job's tasks were submitted"

    # (The driver killed just before a commit is tests/test_crash_points.py's; a task lost
    # mid-unit with its executor and worker is also the standalone-cluster test's.)
    plan = [kill_while_workers_start(), kill_at_stage("loaded"), kill_at_stage("segment"),
            kill_at_stage("postcommit")]
    for i, (env, ready, what) in enumerate(plan):
        log = tmp_path / f"run{i}.log"
        proc = _start(cmd, log, **env)
        _wait_for(ready, proc, log, what)
        kill_session(proc)
        if (out / "_delta_log").is_dir():
            assert_readable_at_every_version(str(out))
            _assert_nothing_lost(out)
    committed = len(set(_docids(out)))
    assert 0 < committed < len(docs), "the kills left nothing (or everything) to the final run"

    flag, log = tmp_path / "failed-once", tmp_path / "final.log"
    proc = _start(cmd, log, **{FAIL_ONCE_ENV: str(flag)})
    assert proc.wait(300) == 0, log.read_text()[-6000:]
    text = log.read_text()
    # One task attempt failed, Spark ran it again, and the job still finished.
    assert flag.exists() and "injected task failure" in text and "Lost task" in text, text[-4000:]
    assert f"({committed} already present)" in text and f"extracted {len(docs) - committed} " in text

    ids = _docids(out)
    assert len(ids) == len(set(ids)) and set(ids) == set(docs)
    rows = DeltaTable(str(out)).to_pandas()
    nags = index_rows(rows["fwd_up"], 2 * 4, "fwd_up")  # L x K indices, packed or not
    assert (rows["n_tokens"] > 0).all() and all(len(a) == 2 * 4 for a in nags)
    assert_readable_at_every_version(str(out))
    _assert_nothing_lost(out)
    assert_no_leftovers(str(out))       # only files the log references; no staging folder


# ------------------------------------------------------------------ two jobs at once

def _opts(model, inp, out):
    return ExtractOptions(str(inp), str(out), model=model, dtype="float32", top_k=4, max_length=32,
                          chunk_docs=25, track=False, progress_seconds=3600.0)


def _at_once(spark, *options) -> list:
    """Run the extractions at the same moment; each result or the error it raised."""
    import threading

    # transformers resolves its lazy attributes unsafely when two threads import the same
    # one first (an ImportError of AutoConfig): import it before the jobs start.
    from transformers import AutoConfig  # noqa: F401

    barrier, results = threading.Barrier(len(options)), [None] * len(options)

    def body(i):
        barrier.wait()
        try:
            results[i] = run_extraction(spark, options[i])
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[i] = exc

    threads = [InheritableThread(target=body, args=(i,)) for i in range(len(options))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return results


def _check_outcome(results, table) -> None:
    """Each job finished, or stopped with a TableError naming the table and the clash (both
    may stop: each can be the later one for some of the shared docids)."""
    for r in results:
        if isinstance(r, Exception):
            assert isinstance(r, TableError), repr(r)
            assert str(table) in str(r) and "docids this job was about to commit" in str(r)


def test_two_jobs_on_the_same_input_at_once(spark, tiny_model, tmp_path):
    inp, out = tmp_path / "docs.parquet", tmp_path / "feats"
    docs = write_docs(inp, [f"d{i:03d}" for i in range(200)])
    results = _at_once(spark, _opts(tiny_model, inp, out), _opts(tiny_model, inp, out))
    # The same units: both jobs finish, each unit committed by one of them only (the
    # other's attempt is dropped when it finds the unit's transaction version moved).
    assert not any(isinstance(r, Exception) for r in results), results
    ids = _docids(out)
    assert len(ids) == len(set(ids)) == len(docs)
    assert sum(r.docs_processed for r in results) == len(docs)
    assert sum(r.units for r in results) - sum(r.units_elsewhere for r in results) == 8
    assert_readable_at_every_version(str(out))
    _assert_nothing_lost(out)
    rerun = run_extraction(spark, _opts(tiny_model, inp, out))
    assert (rerun.docs_processed, rerun.docs_already_present) == (0, len(docs))
    assert_no_leftovers(str(out))


def test_two_jobs_with_overlapping_inputs_at_once(spark, tiny_model, tmp_path):
    out = tmp_path / "feats"
    a = write_docs(tmp_path / "a" / "docs.parquet", [f"d{i:03d}" for i in range(150)])
    b = write_docs(tmp_path / "b" / "docs.parquet", [f"d{i:03d}" for i in range(100, 250)], seed=0)
    opts = [_opts(tiny_model, tmp_path / "a", out), _opts(tiny_model, tmp_path / "b", out)]
    results = _at_once(spark, *opts)
    _check_outcome(results, out)
    ids = _docids(out)
    assert len(ids) == len(set(ids)), "a docid was committed twice"
    assert_readable_at_every_version(str(out))
    _assert_nothing_lost(out)
    # Re-running what failed finishes the work; nothing is written twice.
    for o, r in zip(opts, results):
        if isinstance(r, Exception):
            run_extraction(spark, o)
    ids = _docids(out)
    assert len(ids) == len(set(ids)) and set(ids) == set(a) | set(b)
    _assert_nothing_lost(out)
    assert_no_leftovers(str(out))
