"""compare_runs against a real MLflow tracking server (``mlflow server``) started by the test.

The server runs on 127.0.0.1 with a sqlite backend and proxied artifacts in a tmp folder;
two hand-made rank runs (see conftest.py) are logged to it over HTTP, compared, and the
server is stopped by its PID (its process group, so its workers go too) whatever happens.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mlflow_cli() -> list[str]:
    exe = Path(sys.executable).with_name("mlflow")
    return [str(exe)] if exe.exists() else [shutil.which("mlflow") or "mlflow"]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [*_mlflow_cli(), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--serve-artifacts",
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited {proc.returncode}:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not up after {START_TIMEOUT_S}s:\n"
                            f"{(tmp_path / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        # The server's PID leads its own session; signal that group so workers stop too.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)
        except ProcessLookupError:
            pass
        log.close()


def test_compare_runs_on_a_tracking_server(mlflow_server, make_rank_run, small_pool, spark,
                                           tmp_path, monkeypatch):
    import mlflow

    from nag_spark.spark.compare import compare_runs

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    a, sa = make_rank_run(small_pool, str(tmp_path / "t1"), experiment="srv", name="f20", fraction=0.2, seed=5)
    b, sb = make_rank_run(small_pool, str(tmp_path / "t2"), experiment="srv", name="f40", fraction=0.4, seed=5)
    report = compare_runs(experiment="srv", output_dir=tmp_path / "out", spark=spark,
                          tracking_uri=mlflow_server, print_summary=False)
    assert [r.run_id for r in report.runs] == [a, b]
    # same distances, twice the budget: a's selection is inside b's
    assert report.jaccard_docids.loc["f20", "f40"] == pytest.approx(len(sa) / len(sb))
    assert report.runs[0].hist is not None and report.runs[1].composition is not None
    client = mlflow.MlflowClient(mlflow_server)
    run = client.get_run(report.run_id)
    assert run.data.tags["nag.kind"] == "compare"
    arts = {x.path for x in client.list_artifacts(report.run_id, "compare")}
    assert {"compare/report.html", "compare/overview.png"} <= arts
