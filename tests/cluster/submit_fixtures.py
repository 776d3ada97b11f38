"""Submitting jobs to the test cluster and killing what a test means to kill.

Imported by basename (``tests/cluster`` is put on ``sys.path`` by the test modules).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fault_fixtures import kill_session, session_pids  # noqa: F401  (shared with the fault suites)

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Short-lived test JVMs start about twice as fast with the C1 compiler and the serial GC.
JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
TINY_ARGS = ["--max-length", "64", "--top-k", "4", "--dtype", "float32", "--batch-tokens", "256"]


def cluster_conf(cluster, archive: Path | None) -> list[str]:
    """spark-submit options of a job on the standalone cluster with the packed env (as the
    README gives them; without ``archive``, what ``nag-submit --ship-env`` adds is left out)."""
    ship = [] if archive is None else [
        "--archives", f"{archive}#environment",
        "--conf", "spark.pyspark.python=./environment/bin/python",
        "--conf", f"spark.pyspark.driver.python={sys.executable}"]
    return ["--master", cluster.spec.master_url, "--deploy-mode", "client", *ship,
            "--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=1g",
            "--conf", "spark.cores.max=2", "--conf", "spark.ui.enabled=false",
            "--conf", "spark.sql.shuffle.partitions=2", "--driver-java-options", JVM_OPTIONS,
            # Executors fetch the archive into java.io.tmpdir before unpacking it: keep that
            # next to their work dirs (tmpfs in the tests), one copy each, no fetch cache.
            "--conf", f"spark.executor.extraJavaOptions=-Djava.io.tmpdir={cluster.root / 'local'} "
                      f"{JVM_OPTIONS}",
            "--conf", "spark.files.useFetchCache=false",
            # The driver unpacks --archives too (client mode): into tmpfs as well.
            "--conf", f"spark.local.dir={cluster.root / 'local'}"]


def submit_env(**extra) -> dict:
    """The submitting shell: the venv activated (its bin/ first on PATH), quiet, offline;
    no ``PYSPARK_PYTHON``: the executors' Python comes from ``spark.pyspark.python``."""
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               SPARK_LOCAL_IP="127.0.0.1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               CUDA_VISIBLE_DEVICES="", NAG_LOG_LEVEL="INFO")
    env.pop("PYSPARK_PYTHON", None)
    env.pop("PYSPARK_DRIVER_PYTHON", None)
    env.pop("NAG_DELTA_WRITER", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start(cmd: list[str], log: Path, cwd: Path, env: dict) -> subprocess.Popen:
    with open(log, "w") as fh:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def run(cmd: list[str], log: Path, cwd: Path, env: dict, timeout: float = 300) -> int:
    proc = start(cmd, log, cwd, env)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc)
        raise AssertionError(f"timed out after {timeout}s: {' '.join(cmd)}\n{log.read_text()[-4000:]}")


def wait_for(condition, proc: subprocess.Popen, log: Path, what: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the job ended (exit {proc.returncode}) before {what}:\n"
                                 f"{log.read_text()[-4000:]}")
        if time.time() > deadline:
            kill_session(proc)
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def load_logs(worker_dir: Path) -> dict[str, list[str]]:
    """``{executor dir: lines}`` of the model-load logs (``spark.nag.extract.load_log`` is a
    relative path, so each executor's Python workers write it in their own working dir)."""
    return {str(p.parent.relative_to(worker_dir)): p.read_text().splitlines()
            for p in sorted(worker_dir.glob("app-*/*/loads.tsv"))}


def python_workers(folder: Path) -> list[list[str]]:
    """Command lines of the Python processes running in ``folder`` (an executor's dir)."""
    from nag_spark.cluster.standalone import pids_inside

    out = []
    for pid in pids_inside(folder):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if any("pyspark" in a for a in argv) and "java" not in argv[0]:
            out.append(argv)
    return out
