"""The Databricks wheel: the package, with only the dependencies the runtime lacks."""
from __future__ import annotations

import base64
import csv
import doctest
import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from nag_spark.cluster import databricks_wheel
from nag_spark.cluster.databricks_wheel import RUNTIME_LACKS

REPO = Path(__file__).resolve().parents[2]


def test_the_examples_hold():
    assert doctest.testmod(databricks_wheel).failed == 0


def test_requirements_are_trimmed_and_the_wheel_stays_valid(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nag_spark.cluster.databricks_wheel", "--repo", str(REPO),
                          "--out", str(tmp_path / "dbx")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = Path(out.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
        requires = [ln.split(":", 1)[1].strip() for ln in zf.read(meta).decode().splitlines()
                    if ln.startswith("Requires-Dist:")]
        assert sorted(r.split("==")[0] for r in requires) == sorted(RUNTIME_LACKS)
        setup = (REPO / "setup.cfg").read_text()
        assert all(f"    {r}\n" in setup for r in requires)  # the pins of setup.cfg
        for path, digest, size in csv.reader(io.StringIO(zf.read(record).decode())):
            if digest:  # RECORD lists every file with its hash (RECORD itself has none)
                data = zf.read(path)
                algo, value = digest.split("=", 1)
                assert base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=").decode() \
                    == value and int(size) == len(data), path
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                          "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    assert (target / "nag_spark" / "spark" / "extract" / "worker.py").is_file()
