"""The three Databricks notebooks run end to end as plain Python on a tiny real sample.

Off Databricks each notebook reads its widgets from ``NAG_NB_<NAME>`` (set here to tmp
paths) and uses the suite's local Spark session and MLflow store. 01 extracts real
SmolLM2-135M features of the sample, 02 makes two rank runs (two fractions), 03 compares
them.
"""
from __future__ import annotations

import runpy
from pathlib import Path

import mlflow
import pandas as pd
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _tiny_sample(shared_data: Path, folder: Path) -> tuple[Path, Path]:
    """2 pool documents per dataset, 8 targets each of hellaswag_train and arc_c_train."""
    pool = pd.read_parquet(shared_data / "pool.parquet")
    pool = pool.groupby("dataset", group_keys=False).head(2)
    targets = pd.read_parquet(shared_data / "targets.parquet")
    targets = targets[targets.dataset.isin(["hellaswag_train", "arc_c_train"])]
    targets = targets.groupby("dataset", group_keys=False).head(8)
    folder.mkdir(parents=True, exist_ok=True)
    pool.to_parquet(folder / "pool.parquet", index=False)
    targets.to_parquet(folder / "targets.parquet", index=False)
    return folder / "pool.parquet", folder / "targets.parquet"


def _run(name: str) -> dict:
    text = (NOTEBOOKS / name).read_text(encoding="utf-8")
    assert text.startswith("# Databricks notebook source\n"), name
    assert "# COMMAND ----------" in text and "# MAGIC %md" in text, name
    return runpy.run_path(str(NOTEBOOKS / name), run_name="__main__")


def test_notebooks_end_to_end(shared_data, spark, mlflow_uri, tmp_path, monkeypatch, capsys):
    pool_in, targets_in = _tiny_sample(shared_data, tmp_path / "sample")
    env = {
        "POOL_INPUT": pool_in, "TARGETS_INPUT": targets_in,
        "POOL_FEATURES": tmp_path / "features" / "pool",
        "TARGET_FEATURES": tmp_path / "features" / "targets",
        # 32 tokens per document keep the real model's CPU time small; the NAGs stay real.
        "LIMIT": "", "MAX_LENGTH": "32", "EXPERIMENT": "notebooks-e2e", "TARGETS": "hellaswag",
        "FRACTIONS": "0.2,0.5", "OUTPUT": tmp_path / "out",
    }
    for key, value in env.items():
        monkeypatch.setenv(f"NAG_NB_{key}", str(value))

    ns1 = _run("01_extract.py")
    assert ns1["pool_result"].docs_processed == 44
    assert ns1["target_result"].docs_processed == 16

    monkeypatch.setenv("NAG_NB_OUTPUT", str(tmp_path / "selection"))
    ns2 = _run("02_rank.py")
    r1, r2 = ns2["results"]
    assert r1.output_path == r2.output_path and r2.output_version > r1.output_version
    assert r1.targets[0].selected_tokens < r2.targets[0].selected_tokens

    monkeypatch.setenv("NAG_NB_OUTPUT", str(tmp_path / "compare"))
    ns3 = _run("03_compare_runs.py")
    report = ns3["report"]
    assert [r.run_id for r in report.runs] == [r1.run_id, r2.run_id]
    # Both runs overwrote one table; each was read at its own version. Same distances,
    # larger budget: the 20% selection lies inside the 50% one.
    j = report.jaccard_docids.iat[0, 1]
    assert j == pytest.approx(r1.targets[0].selected_docs / r2.targets[0].selected_docs)
    assert (tmp_path / "compare" / "report.html").is_file()
    assert "Compared 2 rank runs" in capsys.readouterr().out

    client = mlflow.MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("notebooks-e2e")
    kinds = sorted(r.data.tags.get("nag.kind") for r in client.search_runs([exp.experiment_id]))
    assert kinds == ["compare", "extract", "extract", "rank", "rank"]
