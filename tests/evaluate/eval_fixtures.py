"""Real selections to evaluate (imported by basename by tests/evaluate and tests/jobs).

Features are extracted with the tiny random Llama of tests/spark/extract/tiny_model.py from
real shared-data text (pool documents of two sources plus ``hellaswag_train`` target rows in
one table), then the real rank job (:func:`~nag_spark.spark.rank.run_ranking`, with an
MLflow run) writes the selections. ``eval.parquet`` holds the target rows again plus
held-out ``hellaswag_val`` rows: the layout of ../shared/data/targets.parquet.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "spark" / "extract"))
from tiny_model import build_tiny_model  # noqa: E402

POOL_SOURCES = {"books_lambada": 40, "news_agnews": 40}
N_TARGET, N_EVAL = 16, 24
_CACHE: dict[str, dict] = {}


def _sample(df: pd.DataFrame, dataset: str, n: int) -> pd.DataFrame:
    return df[df.dataset == dataset].sort_values("docid").head(n)[["docid", "doc", "dataset"]]


def build(spark, shared_data: Path, root: Path) -> dict:
    """Write docs, features and two selections (fraction 0.3 and 0.5) under ``root``."""
    from nag_spark.spark.extract import ExtractOptions, run_extraction
    from nag_spark.spark.rank import RankOptions, run_ranking

    pool = pd.read_parquet(shared_data / "pool.parquet")
    targets = pd.read_parquet(shared_data / "targets.parquet")
    pool_part = pd.concat([_sample(pool, ds, n) for ds, n in POOL_SOURCES.items()])
    target_rows = _sample(targets, "hellaswag_train", N_TARGET)
    eval_rows = _sample(targets, "hellaswag_val", N_EVAL)
    docs = pd.concat([pool_part, target_rows]).reset_index(drop=True)
    root.mkdir(parents=True, exist_ok=True)
    docs.to_parquet(root / "docs.parquet", index=False)
    pd.concat([target_rows, eval_rows]).to_parquet(root / "eval.parquet", index=False)
    model = build_tiny_model(root / "tiny-llama")
    features = str(root / "features")
    run_extraction(spark, ExtractOptions(input=str(root / "docs.parquet"), output=features,
                                         model=model, top_k=8, dtype="float32", track=False))
    out = {"root": root, "docs": str(root / "docs.parquet"), "eval": str(root / "eval.parquet"),
           "features": features, "pool_part": pool_part, "eval_rows": eval_rows,
           "target_rows": target_rows}
    for name, fraction in (("sel_a", 0.3), ("sel_b", 0.5)):
        res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=features,
                                             output=str(root / name), fraction=fraction,
                                             experiment="evaluate-tests", run_name=name))
        out[name], out[f"{name}_run"] = str(root / name), res.run_id
    return out


@pytest.fixture(scope="session")
def eval_selections(spark, shared_data, mlflow_uri, tmp_path_factory) -> dict:
    """Two real rank selections of real text, with their rank runs (built once)."""
    if "x" not in _CACHE:
        _CACHE["x"] = build(spark, shared_data, tmp_path_factory.mktemp("evaluate"))
    return _CACHE["x"]
