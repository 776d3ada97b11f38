"""Shared fixtures: one real local Spark session for the suite, the shared real data.

Tests that need separate executor JVMs (``local-cluster``) cannot share this session (one
SparkContext per process): they run a job in a subprocess instead; see ``run_job``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NAG_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    """A real ``local[2]`` Spark session shared by the whole suite."""
    from nag_spark.session import get_spark

    session = get_spark(
        "local",
        app_name="nag-spark-tests",
        overrides={
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.driver.memory": "3g",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real public text); tests that need it skip loudly if it is absent."""
    if not (SHARED_DATA / "pool.parquet").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set NAG_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """A real local MLflow store (sqlite) for the suite; never the working directory's."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{path}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return uri


def run_job(args: list[str], *, env: dict | None = None, timeout: int = 600,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repo root in a fresh process (own SparkContext)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=full_env, capture_output=True, text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
            f"stderr:\n{proc.stderr[-8000:]}"
        )
    return proc
