"""Extraction and ranking submitted to a real standalone cluster (``spark-submit --master
spark://127.0.0.1:PORT --archives nag-spark-env.tar.gz#environment``), through the losses a
real cluster has: the same tables, read back with ``deltalake``, as the same jobs run on the
suite's local Spark session.

Extraction (two Spark applications, three if the second stops):

1. the driver stops right after committing its first unit (test hook ``postcommit``) and
   its whole process session is SIGKILLed; the master drops the application and has the
   workers stop its executors;
2. the same command runs again, with worker 2 started with the hook
   ``NAG_EXTRACT_TEST_PAUSE=segment:...``: its first task stops in the middle of a unit and
   says so, then its executor JVM, its worker JVM and the executor's Python workers are
   SIGKILLed (a machine gone). The job must finish on worker 1, or stop with a clear
   message and finish when run again (3).

After that every docid of the input is in the table exactly once, every version is
readable by deltalake and DuckDB, no version lost what an earlier one held, and the table
equals the local run's. Every executor of every application ran from its unpacked copy of
the archive (``./environment/bin/python``) and loaded the model once.

Ranking goes through ``nag-submit --ship-env`` with the venv *not* on ``PATH`` and must
select what the local ranking selects.

Each application unpacks the archive on the driver and on both executors, which is most of
what these tests cost: that is why extraction's three scenarios share two applications.
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

sys.path.append(str(Path(__file__).parent))  # after tests/: "conftest" stays the suite's
from submit_fixtures import (REPO, TINY_ARGS, VENV_BIN, cluster_conf, kill_session,  # noqa: E402
                             load_logs, python_workers, run, start, submit_env, wait_for)
from tiny_model import assert_readable_at_every_version, log_versions, write_docs  # noqa: E402

from nag_spark.cluster.standalone import pids_inside  # noqa: E402
from nag_spark.spark.extract import ExtractOptions, run_extraction  # noqa: E402
from nag_spark.spark.extract.job_files import PAUSE_ENV  # noqa: E402
from nag_spark.spark.rank import run_ranking  # noqa: E402
from nag_spark.spark.rank.options import RankOptions  # noqa: E402

N_POOL, N_TARGET = 280, 40
CHUNK = 40


@pytest.fixture(scope="module")
def local_run(spark, tiny_model, tmp_path_factory) -> dict:
    """The input (pool and target rows, 80-row row groups) and its features extracted on the
    suite's local Spark session: what the cluster's tables must equal."""
    root = tmp_path_factory.mktemp("local-run")
    inp = root / "docs.parquet"
    ids = [f"p{i:04d}" for i in range(N_POOL)] + [f"t{i:03d}" for i in range(N_TARGET)]
    write_docs(inp, ids, row_group_size=80, dataset=["pool"] * N_POOL + ["tgt"] * N_TARGET)
    run_extraction(spark, ExtractOptions(str(inp), str(root / "feats"), model=tiny_model,
                                         max_length=64, top_k=4, dtype="float32", batch_tokens=256,
                                         chunk_docs=CHUNK, track=False))
    return {"input": inp, "docids": ids, "features": root / "feats"}


def _extract_command(cluster, archive, model, inp, out) -> list[str]:
    return [str(VENV_BIN / "spark-submit"), *cluster_conf(cluster, archive),
            "--conf", "spark.task.maxFailures=4", "--conf", "spark.nag.extract.load_log=loads.tsv",
            str(REPO / "jobs" / "extract.py"), "--input", str(inp), "--output", str(out),
            "--model", model, "--chunk-docs", str(CHUNK), *TINY_ARGS, "--no-mlflow"]


def _table(path) -> tuple[pd.DataFrame, dict]:
    table = DeltaTable(str(path))
    df = table.to_pandas().sort_values(["target", "docid"] if "target" in table.schema().to_arrow().names
                                       else "docid").reset_index(drop=True)
    for col in df.columns:
        if df[col].dtype == object and len(df) and hasattr(df[col].iloc[0], "tolist"):
            df[col] = df[col].map(lambda a: tuple(a.tolist()))
    return df, dict(table.metadata().configuration)


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


def _assert_shipped_environment(env: Path) -> None:
    """What the executor unpacked: the packed venv with a regular install of nag-spark
    (no editable link back to this checkout), without Spark's jars or driver-only packages."""
    assert (env / "bin" / "python").exists() and (env / "bin" / "activate").is_file()
    (site,) = env.glob("lib/python3*/site-packages")
    for needed in ("nag_spark/spark/extract/worker.py", "torch/__init__.py", "transformers/__init__.py",
                   "pyspark/__init__.py", "deltalake/__init__.py", "numba/__init__.py"):
        assert (site / needed).is_file(), needed
    assert not (site / "pyspark" / "jars").exists()
    assert not (site / "mlflow").exists() and not (site / "pytest").exists()
    assert not list(site.glob("__editable__*")) and not list(site.glob("*.egg-link"))
    assert len(list(site.glob("nag_spark-*.dist-info/RECORD"))) == 1


def _kill_the_driver_after_its_first_commit(cluster, cmd, out, tmp_path) -> str:
    marker = tmp_path / "paused-after-commit"
    log = tmp_path / "driver-killed.log"
    proc = start(cmd, log, tmp_path, submit_env(**{PAUSE_ENV: f"postcommit:{marker}"}))
    wait_for(lambda: marker.is_file() and marker.read_text().strip(), proc, log,
             "the driver's first commit")
    apps = [a["id"] for a in (cluster.status() or {}).get("activeapps", [])]
    assert len(apps) == 1, cluster.status()
    kill_session(proc)
    committed = set(_docids(out))
    assert 0 < len(committed) < N_POOL + N_TARGET
    # The master notices the driver is gone and has the workers stop its executors.
    deadline = time.time() + 90
    while time.time() < deadline and ((cluster.status() or {}).get("activeapps")
                                      or any(pids_inside(cluster.worker_dir(i) / apps[0]) for i in (1, 2))):
        time.sleep(0.5)
    assert not any(pids_inside(cluster.worker_dir(i) / apps[0]) for i in (1, 2)), \
        "executors of the killed driver still run"
    return apps[0]


def _rerun_losing_worker_2(cluster, cmd, tmp_path, committed: int) -> None:
    marker = tmp_path / "paused-on-worker-2"
    cluster.kill_worker(2)
    cluster.start_worker(2, env={PAUSE_ENV: f"segment:{marker}"})
    try:
        log = tmp_path / "worker-lost.log"
        proc = start(cmd, log, tmp_path, submit_env())
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
    assert f"({committed} already present)" in text, text[-3000:]
    assert re.search(r"Lost executor|ExecutorLost|worker lost|Worker.*removed", text, re.I), text[-4000:]
    if status != 0:
        # Allowed: a clear stop, then the same command finishes the work.
        assert re.search(r"^error: |Job aborted|SparkException", text, re.M), text[-4000:]
        rerun = tmp_path / "rerun.log"
        assert run(cmd, rerun, tmp_path, submit_env()) == 0, rerun.read_text()[-4000:]


def test_extraction_survives_a_killed_driver_and_a_lost_worker_and_equals_the_local_run(
        cluster, env_archive, tiny_model, local_run, tmp_path):
    out = tmp_path / "feats"
    cmd = _extract_command(cluster, env_archive, tiny_model, local_run["input"], out)
    first_app = _kill_the_driver_after_its_first_commit(cluster, cmd, out, tmp_path)
    _rerun_losing_worker_2(cluster, cmd, tmp_path, len(_docids(out)))

    _assert_complete_and_consistent(out, local_run["docids"])
    (a, pa), (b, pb) = _table(local_run["features"]), _table(out)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert pa == pb, {k: (pa.get(k), pb.get(k)) for k in set(pa) | set(pb) if pa.get(k) != pb.get(k)}

    # Every executor of every application that got a task ran from the shipped environment
    # and loaded the model once (its Python worker has the executor's one core). The first
    # application's driver may die before a slow-starting executor got any task.
    loads = {i: load_logs(cluster.worker_dir(i)) for i in (1, 2)}
    assert any(ex.startswith(first_app) for i in (1, 2) for ex in loads[i]), loads
    for i in (1, 2):
        assert loads[i], f"worker {i} never loaded the model: {loads}"
        for executor, lines in loads[i].items():
            assert len(lines) == 1, (i, executor, lines)
            _assert_shipped_environment(cluster.worker_dir(i) / executor / "environment")


def test_ranking_with_nag_submit_ship_env_equals_the_local_ranking(
        spark, cluster, env_archive, local_run, tmp_path, mlflow_uri):
    rank_args = ["--target-filter", "dataset=tgt", "--fraction", "0.3", "--experiment", "cluster-test"]
    run_ranking(spark, RankOptions(targets=["dataset=tgt"], pool=str(local_run["features"]),
                                   output=str(tmp_path / "local-sel"), fraction=0.3,
                                   experiment="cluster-test"))
    # nag-submit, with the venv not on PATH: it finds its own Spark and Python.
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    log = tmp_path / "rank.log"
    cmd = [str(VENV_BIN / "nag-submit"), "--ship-env", str(env_archive), *cluster_conf(cluster, None),
           str(REPO / "jobs" / "rank.py"), "--pool", str(local_run["features"]),
           "--output", str(tmp_path / "sel"), *rank_args]
    assert run(cmd, log, tmp_path, submit_env(PATH=path, MLFLOW_TRACKING_URI=mlflow_uri)) == 0, \
        log.read_text()[-6000:]
    (a, pa), (b, pb) = _table(tmp_path / "local-sel"), _table(tmp_path / "sel")
    assert 0 < len(a) < N_POOL and a["target"].nunique() == 1 and a["docid"].is_unique
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    # The MLflow run differs by construction; the rest is equal.
    differ = {k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k)}
    assert differ <= {"nag.mlflow_run_id"}, differ
