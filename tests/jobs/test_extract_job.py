"""``jobs/extract.py`` as a user runs it: errors exit 2 with one line; a killed run resumes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
from deltalake import DeltaTable

from conftest import REPO, run_job


def test_bad_input_exits_2_with_a_clear_line(tmp_path):
    proc = run_job(["jobs/extract.py", "--input", str(tmp_path / "missing.parquet"),
                    "--output", str(tmp_path / "out"), "--no-mlflow"], check=False, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: input {tmp_path / 'missing.parquet'} does not exist"


def test_resume_after_sigkill_completes_without_duplicates(tmp_path, shared_data, mlflow_uri):
    docs = pd.read_parquet(shared_data / "pool.parquet").iloc[::997].head(20)
    docs.to_parquet(tmp_path / "docs.parquet", index=False)
    out = tmp_path / "features"
    args = ["jobs/extract.py", "--input", str(tmp_path / "docs.parquet"), "--output", str(out),
            "--max-length", "16", "--chunk-docs", "4", "--experiment", "resume-test"]
    env = dict(os.environ, NAG_SPARK_LOG_LEVEL="ERROR")
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "_delta_log"
    deadline = time.time() + 400
    try:
        # Kill as soon as the first chunk is committed. A new table's first version may hold
        # only its schema and properties (delta-rs path), so wait for a commit adding files.
        while time.time() < deadline and proc.poll() is None:
            if log.is_dir() and any(
                '"add"' in p.read_text() for p in log.iterdir() if p.suffix == ".json"
            ):
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the job's own process group (driver + JVM)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    partial = DeltaTable(str(out)).to_pandas()
    assert 0 < len(partial) < 20 and partial["docid"].is_unique

    done = run_job(args, timeout=600)
    assert "already present" in done.stdout
    full = DeltaTable(str(out)).to_pandas()
    assert len(full) == 20 and full["docid"].is_unique
    assert set(full["docid"]) == set(docs["docid"])
    kept = full.set_index("docid").loc[partial["docid"], "fwd_up"]
    assert all((a == b).all() for a, b in zip(kept, partial["fwd_up"]))  # committed rows untouched

    import mlflow

    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["resume-test"])
    finished = runs[runs["status"] == "FINISHED"].iloc[0]
    assert finished["tags.nag.kind"] == "extract"
    assert finished["metrics.docs_processed"] == 20 - len(partial)
    assert finished["metrics.docs_per_s"] > 0 and finished["metrics.tokens_per_s"] > 0
    assert finished["params.top_k"] == "20"
    assert str(out) in finished["tags.nag.table.output"]
