"""The standalone cluster: started the real way, ready when it says so, stopped without
touching anything that is not its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nag_spark.cluster.standalone import free_port

REPO = Path(__file__).resolve().parents[2]


def test_the_session_cluster_has_two_fixed_size_workers_with_their_own_dirs(cluster):
    status = cluster.status()
    alive = [w for w in status["workers"] if w["state"] == "ALIVE"]
    assert status["url"] == cluster.spec.master_url and len(alive) == 2
    assert all(w["cores"] == 1 and w["memory"] == 2048 and w["host"] == "127.0.0.1" for w in alive)
    pids = {n: cluster.pid_of(n) for n in ("master", "worker-1", "worker-2")}
    assert all(pids.values()) and len(set(pids.values())) == 3
    for i in (1, 2):
        cmdline = Path(f"/proc/{pids[f'worker-{i}']}/cmdline").read_bytes().split(b"\0")
        assert b"org.apache.spark.deploy.worker.Worker" in cmdline
        assert str(cluster.worker_dir(i)).encode() == cmdline[cmdline.index(b"--work-dir") + 1]


def _cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "nag_spark.cluster", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, NAG_LOG_LEVEL="WARNING"))


def test_up_prints_the_url_refuses_a_second_start_and_down_stops_only_its_own(tmp_path):
    state, port, ui = tmp_path / "state", free_port(), free_port()
    # Not the cluster's, though it looks like a master: must survive cluster-down, even
    # named in a (stale) PID file.
    decoy = subprocess.Popen(["bash", "-c", "exec -a 'java org.apache.spark.deploy.master.Master' "
                              "sleep 120"], cwd=tmp_path)
    try:
        up = _cli("up", "--dir", str(state), "--port", str(port), "--webui-port", str(ui),
                  "--workers", "1", "--memory", "1g")
        assert up.returncode == 0, up.stderr[-3000:]
        assert up.stdout.strip().splitlines()[-1] == f"spark://127.0.0.1:{port}"
        saved = json.loads((state / "cluster.json").read_text())
        assert saved["master_url"] == f"spark://127.0.0.1:{port}" and saved["workers"] == 1
        pids = [int((state / f"{n}.pid").read_text()) for n in ("master", "worker-1")]
        assert all(Path(f"/proc/{p}").exists() for p in pids)

        again = _cli("up", "--dir", str(state), "--port", str(port), "--webui-port", str(ui))
        assert again.returncode == 2 and "already running" in again.stderr, again.stderr
        taken = _cli("up", "--dir", str(tmp_path / "other"), "--port", str(port), "--webui-port",
                     str(free_port()))
        assert taken.returncode == 2 and f"port {port}" in taken.stderr and "in use" in taken.stderr

        down = _cli("down", "--dir", str(state))
        assert down.returncode == 0, down.stderr
        assert not any(Path(f"/proc/{p}").exists() and b"java" in Path(f"/proc/{p}/cmdline").read_bytes()
                       for p in pids)
        assert not (state / "master.pid").exists()
        for name in ("master", "worker-1"):
            (state / f"{name}.pid").write_text(f"{decoy.pid}\n")
        assert _cli("down", "--dir", str(state)).returncode == 0
        assert decoy.poll() is None, "cluster-down killed a process that was not its own"
        assert _cli("status", "--dir", str(state)).returncode == 1
    finally:
        decoy.kill()
        _cli("down", "--dir", str(state))
