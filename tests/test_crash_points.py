"""Crash points (issue 13): each job killed at every named point of its commit protocol,
then the table checked after a re-run.

The jobs run under ``spark-submit`` in their own session and are killed whole (driver,
JVM, Python daemon and workers) at the writer's test pauses (``NAG_DELTA_TEST_PAUSE``):

- ``staged``: Spark's files written into ``_nag_staging/``, nothing moved;
- ``precommit``: the files moved into the table, the commit not written;
- ``postcommit``: the commit written, the staging folder not removed yet.

Ranking is killed at each of them while writing a new selection table, and at
``precommit`` while overwriting an existing one with other properties; extraction while
creating its features table, and by SIGTERM at the commit of its first work unit. The
unit-commit points of extraction (``loaded``, ``segment``, ``precommit``, ``postcommit``)
are killed one by one with SIGKILL in ``tests/spark/extract/test_exactly_once.py``.

After each kill, and after each re-run, every version is read by deltalake and DuckDB and
its properties must describe its rows (the ``nag.mlflow_run_id`` of a selection is the run
of the commit that wrote its rows); after the re-run the folder holds only files the log
references and no staging area, and the MLflow run of the killed job is FAILED.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_fixtures import REPO, TableState, job_env, kill_session, tiny_model_dir

sys.path.insert(0, str(REPO / "tests" / "spark" / "rank"))
from rank_fixtures import synthetic_pool, write_features  # noqa: E402

SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")
# Short-lived JVMs: the C1 compiler alone starts Spark about twice as fast.
JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


# ---------------------------------------------------------------- running and killing jobs

def _start(job: str, args: list[str], log: Path, **env) -> subprocess.Popen:
    cmd = [SPARK_SUBMIT, "--master", "local[1]", "--driver-memory", "1g",
           "--driver-java-options", JVM_OPTIONS,
           "--conf", "spark.sql.shuffle.partitions=1", "--conf", "spark.ui.enabled=false",
           f"jobs/{job}.py", *args]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with open(log, "w") as fh:
        return subprocess.Popen(cmd, cwd=REPO, env=job_env(PATH=path, **env), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _launch(job, args, tmp_path, stage, env_key="NAG_DELTA_TEST_PAUSE", **env):
    """Start a job that pauses at ``stage``: ``(process, marker, log)``."""
    marker = tmp_path / f"paused-{job}-{stage}-{time.time_ns()}"
    log = tmp_path / f"{marker.name}.log"
    return _start(job, args, log, **{env_key: f"{stage}:{marker}"}, **env), marker, log


def _wait_paused(started, timeout: float = 420) -> None:
    """Wait until every started job is paused at its point (they run side by side: the
    suite's wall time is that of the slowest, not the sum)."""
    deadline = time.time() + timeout
    waiting = list(started)
    while waiting:
        for item in list(waiting):
            proc, marker, log = item
            if marker.exists() and marker.read_text().strip():
                waiting.remove(item)
            elif proc.poll() is not None or time.time() > deadline:
                for other, _, _ in started:
                    kill_session(other)
                pytest.fail(f"a job never reached its pause (exit {proc.returncode}):\n"
                            f"{log.read_text()[-4000:]}")
        time.sleep(0.2)


# ---------------------------------------------------------------- what every table must satisfy

def _versions(table: Path) -> list[int]:
    return sorted(int(p.name[:20]) for p in (table / "_delta_log").glob("*.json") if p.name[:20].isdigit())


def _commit(table: Path, version: int) -> list[dict]:
    return [json.loads(line) for line in (table / "_delta_log" / f"{version:020d}.json").read_text().splitlines()]


def _referenced(table: Path) -> set[str]:
    from urllib.parse import unquote

    return {unquote(a["add"]["path"]) for v in _versions(table) for a in _commit(table, v) if "add" in a}


def assert_every_version_consistent(table: Path) -> None:
    """deltalake and DuckDB read every version alike, and a selection's properties name the
    run whose commit wrote its rows."""
    import duckdb
    from deltalake import DeltaTable

    writer = None
    for v in _versions(table):
        actions = _commit(table, v)
        if any("add" in a or "remove" in a for a in actions):
            writer = next(a["commitInfo"] for a in actions if "commitInfo" in a).get("mlflow_run_id")
        snap = DeltaTable(str(table), version=v)
        rows = snap.to_pyarrow_table(columns=["docid"]).num_rows
        files = snap.file_uris()
        if files:
            listing = ", ".join(f"'{f}'" for f in files)
            assert duckdb.sql(f"select count(*) from read_parquet([{listing}])").fetchone()[0] == rows
        props = snap.metadata().configuration
        if props.get("nag.kind") == "selection" and writer is not None:
            assert props["nag.mlflow_run_id"] == writer, f"version {v}: properties of another run"


def assert_only_referenced_files(table: Path) -> None:
    on_disk = {str(p.relative_to(table)) for p in table.rglob("*") if p.is_file()
               and not str(p.relative_to(table)).startswith("_delta_log")}
    assert on_disk <= _referenced(table), sorted(on_disk - _referenced(table))
    assert not (table / "_nag_staging").exists()


def _run_status(uri: str, run_name: str) -> list[str]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name("crash-points") is None:
        mlflow.create_experiment("crash-points")
    runs = mlflow.search_runs(experiment_names=["crash-points"], filter_string=f"attributes.run_name = '{run_name}'")
    return list(runs["status"]) if len(runs) else []


# ---------------------------------------------------------------- ranking

@pytest.fixture(scope="module")
def features(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-features")
    pool = write_features(spark, synthetic_pool(120, seed=31), str(root / "pool"), partitions=2)
    return pool


def _rank_args(pool, out, fraction, run_name):
    return ["--target", "hellaswag", "--pool", pool, "--output", str(out), "--fraction",
            str(fraction), "--experiment", "crash-points", "--run-name", run_name]


def test_rank_killed_at_every_point_of_its_write(spark, features, tmp_path, mlflow_uri):
    from nag_spark.spark.rank import RankOptions, run_ranking

    def rank(out, fraction, name):
        return run_ranking(spark, RankOptions(targets=["hellaswag"], pool=features, output=str(out),
                                              fraction=fraction, experiment="crash-points",
                                              run_name=name))

    existing = tmp_path / "existing"
    first = rank(existing, 0.2, "first")
    before = TableState.of(existing)
    stages = ("staged", "precommit", "postcommit")
    jobs = {stage: _launch("rank", _rank_args(features, tmp_path / stage, 0.3, f"killed-{stage}"),
                           tmp_path, stage, MLFLOW_TRACKING_URI=mlflow_uri) for stage in stages}
    jobs["overwrite"] = _launch("rank", _rank_args(features, existing, 0.6, "killed-overwrite"),
                                tmp_path, "precommit", MLFLOW_TRACKING_URI=mlflow_uri)
    _wait_paused(list(jobs.values()))
    for proc, _, _ in jobs.values():
        kill_session(proc)

    for stage in stages:
        out = tmp_path / stage
        # Before its commit a new table does not exist for any reader; after it, it is whole.
        assert TableState.of(out).exists == (stage == "postcommit"), stage
        if stage == "postcommit":
            assert_every_version_consistent(out)
        res = rank(out, 0.3, f"rerun-{stage}")
        assert res.output_version == (1 if stage == "postcommit" else 0)
        assert_every_version_consistent(out)
        assert_only_referenced_files(out)
        assert _run_status(mlflow_uri, f"killed-{stage}") == ["FAILED"]  # marked by the re-run

    # Overwrite killed after its files moved in: no reader sees them; version, rows and
    # properties (fraction 0.2, the first run's id) are the first run's.
    assert TableState.of(existing) == before
    assert dict(before.properties)["nag.mlflow_run_id"] == first.run_id
    again = rank(existing, 0.6, "rerun-overwrite")
    after = dict(TableState.of(existing).properties)
    assert again.output_version == first.output_version + 1
    assert (after["nag.fraction"], after["nag.mlflow_run_id"]) == ("0.6", again.run_id)
    assert_every_version_consistent(existing)
    assert_only_referenced_files(existing)
    assert _run_status(mlflow_uri, "killed-overwrite") == ["FAILED"]


# ---------------------------------------------------------------- extraction

@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    import pandas as pd

    root = tmp_path_factory.mktemp("crash-docs")
    words = "river stone market winter garden signal engine harbor lantern orchard".split()
    pd.DataFrame({"docid": [f"doc-{i:03d}" for i in range(40)],
                  "doc": [" ".join(words[(i + j) % 10] for j in range(3 + i % 7)) for i in range(40)]}
                 ).to_parquet(root / "docs.parquet", index=False)
    return str(root / "docs.parquet"), tiny_model_dir(root)


def _extract_args(docs, out, *extra):
    src, model = docs
    return ["--input", src, "--output", str(out), "--model", model, "--chunk-docs", "10",
            "--max-length", "16", "--top-k", "4", "--dtype", "float32", *extra]


def _extract_again(spark, docs, out):
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    src, model = docs
    return run_extraction(spark, ExtractOptions(src, str(out), model=model, chunk_docs=10,
                                                max_length=16, top_k=4, dtype="float32",
                                                experiment="crash-points", run_name="rerun"))


def _assert_complete(out: Path, n: int) -> None:
    from deltalake import DeltaTable

    ids = DeltaTable(str(out)).to_pyarrow_table(columns=["docid"]).column("docid").to_pylist()
    assert len(ids) == len(set(ids)) == n
    assert_every_version_consistent(out)
    assert_only_referenced_files(out)


def test_extract_killed_or_terminated_at_a_unit_commit(spark, docs, tmp_path, mlflow_uri):
    """SIGKILL before a unit's commit, SIGTERM after one: the killed run is marked FAILED
    by the next run, the terminated one ends itself FAILED; both tables complete on re-run
    with every docid once and the counts the re-run reports are the rows it added."""
    from deltalake import DeltaTable

    outs = {sig: tmp_path / sig for sig in ("kill", "term")}
    _run_status(mlflow_uri, "none")  # the store exists before two jobs open it at once
    jobs = {sig: _launch("extract", _extract_args(docs, outs[sig], "--experiment", "crash-points",
                                                  "--run-name", f"extract-{sig}"),
                         tmp_path, stage, env_key="NAG_EXTRACT_TEST_PAUSE",
                         MLFLOW_TRACKING_URI=mlflow_uri)
            for sig, stage in (("kill", "precommit"), ("term", "postcommit"))}
    _wait_paused(list(jobs.values()))
    kill_session(jobs["kill"][0])
    proc, marker, log = jobs["term"]
    # SIGTERM (what YARN, Kubernetes and `kill` send) to the Python driver, which paused
    # there and wrote its pid; spark-submit then exits with the driver's status.
    os.kill(int(marker.read_text().split()[0]), signal.SIGTERM)
    try:
        code = proc.wait(120)
    finally:
        kill_session(proc)
    assert code == 128 + signal.SIGTERM, log.read_text()[-3000:]
    # The terminated run was ended FAILED by the job itself, before any later run.
    assert _run_status(mlflow_uri, "extract-term") == ["FAILED"]
    assert _run_status(mlflow_uri, "extract-kill") == ["RUNNING"]

    for sig, out in outs.items():
        before = DeltaTable(str(out)).to_pyarrow_table(columns=["docid"]).num_rows
        assert (before == 0) == (sig == "kill"), (sig, before)  # killed before its first commit
        assert_every_version_consistent(out)
        res = _extract_again(spark, docs, out)
        assert (res.docs_processed, res.docs_already_present) == (40 - before, before)
        _assert_complete(out, 40)
    assert _run_status(mlflow_uri, "extract-kill") == ["FAILED"]  # marked by a later run
