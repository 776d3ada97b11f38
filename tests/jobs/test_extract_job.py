"""``jobs/extract.py`` as a user runs it: errors exit 2 with one line; a cut-short run resumes."""
from __future__ import annotations

import numpy as np
import pandas as pd
from deltalake import DeltaTable

from conftest import run_job


def test_bad_input_exits_2_with_a_clear_line(tmp_path):
    proc = run_job(["jobs/extract.py", "--input", str(tmp_path / "missing.parquet"),
                    "--output", str(tmp_path / "out"), "--no-mlflow"], check=False, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: input {tmp_path / 'missing.parquet'} does not exist"


def test_a_cut_short_run_resumes_with_the_real_model_and_records_it(tmp_path, shared_data, mlflow_uri):
    """The CLI with SmolLM2: a run cut short by ``--limit`` and a full re-run. Resuming after
    SIGKILLs at every commit step is proven with the tiny model in
    tests/spark/extract/test_exactly_once.py; this one checks the real model's path and what
    the MLflow runs record."""
    docs = pd.read_parquet(shared_data / "pool.parquet").iloc[::997].head(12)
    docs.to_parquet(tmp_path / "docs.parquet", index=False)
    out = tmp_path / "features"
    args = ["jobs/extract.py", "--input", str(tmp_path / "docs.parquet"), "--output", str(out),
            "--max-length", "16", "--experiment", "resume-test"]
    run_job([*args, "--limit", "5"], timeout=600)
    partial = DeltaTable(str(out)).to_pandas()
    assert len(partial) == 5 and partial["docid"].is_unique

    done = run_job(args, timeout=600)
    assert "(5 already present)" in done.stdout
    full = DeltaTable(str(out)).to_pandas()
    assert len(full) == 12 and full["docid"].is_unique
    assert set(full["docid"]) == set(docs["docid"])
    kept = full.set_index("docid").loc[partial["docid"], "fwd_up"]
    assert all(np.array_equal(a, b) for a, b in zip(kept, partial["fwd_up"]))  # committed rows untouched

    import mlflow

    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["resume-test"])
    assert (runs["status"] == "FINISHED").sum() == 2
    finished = runs.sort_values("start_time").iloc[-1]
    assert finished["tags.nag.kind"] == "extract"
    assert finished["metrics.docs_processed"] == 12 - 5
    assert finished["metrics.docs_per_s"] > 0 and finished["metrics.tokens_per_s"] > 0
    assert finished["params.top_k"] == "20"
    assert str(out) in finished["tags.nag.table.output"]
