"""``nag-submit``: spark-submit that works from a venv that is not activated, and says in
one line what is missing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nag_spark.cluster.submit import build_command
from nag_spark.errors import ConfigError

NAG_SUBMIT = Path(sys.executable).parent / "nag-submit"


def _bare_env(**extra) -> dict:
    """A shell where the venv is not activated: its bin/ is not on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_HOME", "PYSPARK_PYTHON",
                                                           "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV")}
    env.update(PATH=path, **extra)
    return env


def test_runs_spark_submit_without_the_venv_on_path():
    proc = subprocess.run([str(NAG_SUBMIT), "--version"], env=_bare_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import pyspark

    assert f"version {pyspark.__version__}" in proc.stdout + proc.stderr


@pytest.mark.parametrize("extra, message", [
    ({"SPARK_HOME": "/nonexistent/spark"}, "no bin/spark-submit under /nonexistent/spark (SPARK_HOME)"),
    ({"JAVA_HOME": "/nonexistent/jdk"}, "needs Java 17 or 21"),
])
def test_what_is_missing_is_one_line_and_exit_2(extra, message):
    proc = subprocess.run([str(NAG_SUBMIT), "jobs/extract.py", "--help"], env=_bare_env(**extra),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr


def test_ship_env_adds_the_archive_and_keeps_the_driver_on_this_python(tmp_path):
    archive = tmp_path / "env.tar.gz"
    archive.write_bytes(b"")
    cmd, env = build_command(["--master", "spark://h:7077", "--ship-env", str(archive),
                              "jobs/extract.py", "--input", "x.py"])
    assert cmd[0].endswith("/bin/spark-submit") and cmd[-3:] == ["jobs/extract.py", "--input", "x.py"]
    opts = cmd[1:cmd.index("jobs/extract.py")]
    assert f"{archive}#environment" in opts and "spark.pyspark.python=./environment/bin/python" in opts
    assert f"spark.pyspark.driver.python={sys.executable}" in opts and "--ship-env" not in opts
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["SPARK_HOME"] == str(Path(cmd[0]).parent.parent)
    # Cluster mode: the driver runs on the cluster, inside the shipped environment.
    cmd, _ = build_command(["--deploy-mode", "cluster", "--ship-env", str(archive), "jobs/rank.py"])
    assert not any(c.startswith("spark.pyspark.driver.python") for c in cmd)
    with pytest.raises(ConfigError, match="no such file"):
        build_command(["--ship-env", str(tmp_path / "missing.tar.gz"), "jobs/rank.py"])
