"""Extraction on separate executor JVMs: one model load per Python worker, reused across jobs."""
from __future__ import annotations

import collections
import re

import pandas as pd
from deltalake import DeltaTable

from conftest import run_job


def test_two_executors_one_model_load_per_worker(tmp_path, shared_data):
    pool = pd.read_parquet(shared_data / "pool.parquet").head(12)
    pool.to_parquet(tmp_path / "docs.parquet", index=False)
    log = tmp_path / "loads.tsv"
    proc = run_job(["tests/spark/scripts/extract_cluster_job.py", "--input", str(tmp_path / "docs.parquet"),
                    "--out", str(tmp_path / "out"), "--load-log", str(log)], timeout=600)
    assert re.search(r"RUN 1 DOCS 12 VERSION", proc.stdout), proc.stdout + proc.stderr[-3000:]
    assert "EXECUTORS 2" in proc.stdout
    loads = collections.Counter(line.split("\t")[0] for line in log.read_text().splitlines())
    # Two executors x one worker each; each loaded the model once although it ran several
    # tasks of two chunks in each of two jobs.
    assert len(loads) == 2 and set(loads.values()) == {1}, loads
    for i in range(2):
        df = DeltaTable(str(tmp_path / "out" / f"run{i}")).to_pandas()
        assert sorted(df["docid"]) == sorted(pool["docid"])
    a = DeltaTable(str(tmp_path / "out" / "run0")).to_pandas().set_index("docid")
    b = DeltaTable(str(tmp_path / "out" / "run1")).to_pandas().set_index("docid")
    assert all((a.loc[d, "fwd_up"] == b.loc[d, "fwd_up"]).all() for d in a.index)
