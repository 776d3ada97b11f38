"""A real Spark standalone cluster for the tests in this folder, and the packed environment.

- ``env_archive``: the venv-pack archive executors get with ``--archives`` (built once per
  machine, rebuilt when setup.cfg or the package's files change: nag_spark.cluster.pack);
- ``standalone``: one master and two workers (1 core, 2 GB each) on free ports of
  127.0.0.1, started once for the session from the pip pyspark install, stopped at the end;
  ``cluster`` hands it to a test with both workers ALIVE (restarting one a test killed).

The jobs are submitted with the venv's ``spark-submit`` (or ``nag-submit``) exactly as the
README says; executors run ``./environment/bin/python`` from the archive, never this venv.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spark" / "extract"))
from tiny_model import tiny_model  # noqa: E402,F401  (the 2-layer random Llama fixture)

from nag_spark.cluster.pack import ARCHIVE_NAME, build_env_archive, default_work_dir  # noqa: E402
from nag_spark.cluster.standalone import ClusterSpec, StandaloneCluster, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# What a worker machine would have in its environment (executors inherit the worker's).
WORKER_ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": "",
              "SPARK_LOCAL_IP": "127.0.0.1"}


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    """Tests that ship the packed environment are marked ``cluster``, so that
    ``make test-cluster`` (``-m cluster``) runs just them; ``make test`` runs them too.

    Every test of this folder runs in one xdist process (``--dist loadgroup``): they share
    the session's standalone cluster (a master, two 2 GB workers and their executors), which
    a second process would start again beside the first."""
    for item in items:
        if "env_archive" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.xdist_group("standalone"))


@pytest.fixture(scope="session")
def env_archive() -> Path:
    """``dist/nag-spark-env.tar.gz``, as ``make package`` builds it (a no-op when it is up
    to date; otherwise a copy of this venv's distributions and a re-pack, about 50 s here).

    (A plain ``.tar`` would unpack faster, but Spark unpacks ``.tar`` with Java, which
    refuses the venv's absolute ``bin/python3.11`` symlink; ``.tar.gz`` goes through
    ``tar``.)
    """
    return build_env_archive(REPO / "dist" / ARCHIVE_NAME, REPO, default_work_dir())


def _cluster_root(tmp_path_factory) -> Path:
    """Each executor of each application unpacks the ~2.4 GB environment into its work
    dir: on tmpfs (RAM) that costs a few seconds; on this machine's disk, under load, up to
    a minute. Folders of finished applications are removed after every test."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 14e9:
        return Path(tempfile.mkdtemp(prefix="nag-standalone-", dir=shm))
    return tmp_path_factory.mktemp("standalone")


@pytest.fixture(scope="session")
def standalone(tmp_path_factory):
    root = _cluster_root(tmp_path_factory)
    (root / "local").mkdir()
    spec = ClusterSpec(root=str(root), port=free_port(), webui_port=free_port(), workers=2,
                       worker_cores=1, worker_memory="2g",
                       worker_env={**WORKER_ENV, "SPARK_LOCAL_DIRS": str(root / "local")})
    cluster = StandaloneCluster(spec)
    cluster.start()
    yield cluster
    cluster.stop()
    assert not any(cluster.pid_of(n) for n in ("master", "worker-1", "worker-2"))
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster(standalone):
    """The session's cluster with both workers ALIVE and no application running."""
    import time

    for i in (1, 2):
        if standalone.pid_of(f"worker-{i}") is None:
            standalone.start_worker(i)
    assert all(standalone.worker_alive(i) for i in (1, 2))
    deadline = time.time() + 60
    while (standalone.status() or {}).get("activeapps") and time.time() < deadline:
        time.sleep(0.5)
    yield standalone
    active = {a["id"] for a in (standalone.status() or {}).get("activeapps", [])}
    for i in (1, 2):
        for app in standalone.worker_dir(i).glob("app-*"):
            if app.name not in active:
                shutil.rmtree(app, ignore_errors=True)
    for leftover in (standalone.root / "local").glob("*"):
        shutil.rmtree(leftover, ignore_errors=True)
