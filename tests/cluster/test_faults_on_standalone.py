"""Losing a worker or the driver in the middle of an extraction on the standalone cluster.

- A worker lost: worker 2 runs with the test hook ``NAG_EXTRACT_TEST_PAUSE=segment:...``
  in its environment, so its first task stops in the middle of a unit and says so; then
  its executor JVM, its worker JVM and the executor's Python workers are SIGKILLed (a
  machine gone). The job must finish on worker 1, or stop with a clear message and finish
  when run again.
- The driver lost: the driver stops right after committing a unit (hook ``postcommit``)
  and its whole process session is SIGKILLed; the master drops the application and its
  executors; the same command run again completes the table.

Either way every docid of the input is in the table exactly once, every version is
readable by deltalake and DuckDB, and no version lost what an earlier one held.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from deltalake import DeltaTable

sys.path.append(str(Path(__file__).parent))  # after tests/: "conftest" stays the suite's
from submit_fixtures import (REPO, TINY_ARGS, VENV_BIN, cluster_conf, kill_session,  # noqa: E402
                             python_workers, run, start, submit_env, wait_for)
from tiny_model import assert_readable_at_every_version, log_versions, write_docs  # noqa: E402

from nag_spark.cluster.standalone import pids_inside  # noqa: E402
from nag_spark.spark.extract.job_files import PAUSE_ENV  # noqa: E402

N_DOCS = 320


def _command(cluster, archive, model, inp, out) -> list[str]:
    return [str(VENV_BIN / "spark-submit"), *cluster_conf(cluster, archive),
            "--conf", "spark.task.maxFailures=4", str(REPO / "jobs" / "extract.py"),
            "--input", str(inp), "--output", str(out), "--model", model, "--chunk-docs", "40",
            *TINY_ARGS, "--no-mlflow"]


def _docids(table, version=None) -> list[str]:
    return DeltaTable(str(table), version=version).to_pyarrow_table(columns=["docid"]) \
        .column("docid").to_pylist()


def _assert_complete_and_consistent(table, docs) -> None:
    ids = _docids(table)
    assert len(ids) == len(set(ids)), "a docid was committed twice"
    assert set(ids) == set(docs), f"lost: {sorted(set(docs) - set(ids))[:5]}"
    assert_readable_at_every_version(str(table))
    previous: set = set()
    for v in log_versions(str(table)):
        now = set(_docids(table, v))
        assert previous <= now, f"version {v} lost {sorted(previous - now)[:5]}"
        previous = now


def _input(tmp_path) -> tuple[Path, list[str]]:
    inp = tmp_path / "docs.parquet"
    docs = [f"d{i:04d}" for i in range(N_DOCS)]
    write_docs(inp, docs, row_group_size=80)
    return inp, docs


def test_a_worker_lost_mid_extraction_loses_and_duplicates_no_docid(
        cluster, env_archive, tiny_model, tmp_path):
    inp, docs = _input(tmp_path)
    out, marker = tmp_path / "feats", tmp_path / "paused-on-worker-2"
    cluster.kill_worker(2)
    cluster.start_worker(2, env={PAUSE_ENV: f"segment:{marker}"})
    try:
        log = tmp_path / "run.log"
        proc = start(_command(cluster, env_archive, tiny_model, inp, out), log, tmp_path, submit_env())
        wait_for(lambda: marker.is_file() and marker.read_text().strip(), proc, log,
                 "a task on worker 2 in the middle of a unit")
        in_flight = pids_inside(cluster.worker_dir(2))
        # The paused task runs in the shipped environment's Python, not this venv's.
        workers = python_workers(cluster.worker_dir(2))
        assert workers and all(argv[0] == "./environment/bin/python" for argv in workers), workers
        killed = cluster.kill_worker(2)
        assert set(in_flight) <= set(killed) and len(killed) >= 3  # executor, Python, worker
        status = proc.wait(300)
    finally:
        cluster.kill_worker(2)  # the next test gets a worker without the hook
    text = log.read_text()
    assert re.search(r"Lost executor|ExecutorLost|worker lost|Worker.*removed", text, re.I), text[-4000:]
    if status != 0:
        # Allowed: a clear stop, then the same command finishes the work.
        assert re.search(r"^error: |Job aborted|SparkException", text, re.M), text[-4000:]
        rerun = tmp_path / "rerun.log"
        assert run(_command(cluster, env_archive, tiny_model, inp, out), rerun, tmp_path,
                   submit_env()) == 0, rerun.read_text()[-4000:]
    _assert_complete_and_consistent(out, docs)


def test_the_driver_killed_mid_job_then_rerun_completes_the_table(
        cluster, env_archive, tiny_model, tmp_path):
    inp, docs = _input(tmp_path)
    out, marker = tmp_path / "feats", tmp_path / "paused-after-commit"
    cmd = _command(cluster, env_archive, tiny_model, inp, out)
    log = tmp_path / "killed.log"
    proc = start(cmd, log, tmp_path, submit_env(**{PAUSE_ENV: f"postcommit:{marker}"}))
    wait_for(lambda: marker.is_file() and marker.read_text().strip(), proc, log,
             "the driver's first commit")
    apps = [a["id"] for a in (cluster.status() or {}).get("activeapps", [])]
    assert len(apps) == 1, cluster.status()
    kill_session(proc)
    committed = set(_docids(out))
    assert 0 < len(committed) < len(docs)
    # The master notices the driver is gone and has the workers stop its executors.
    deadline = time.time() + 90
    while time.time() < deadline and ((cluster.status() or {}).get("activeapps")
                                      or any(pids_inside(cluster.worker_dir(i) / apps[0]) for i in (1, 2))):
        time.sleep(0.5)
    assert not any(pids_inside(cluster.worker_dir(i) / apps[0]) for i in (1, 2)), \
        "executors of the killed driver still run"

    rerun = tmp_path / "rerun.log"
    assert run(cmd, rerun, tmp_path, submit_env()) == 0, rerun.read_text()[-4000:]
    text = rerun.read_text()
    assert f"({len(committed)} already present)" in text, text[-3000:]
    _assert_complete_and_consistent(out, docs)
