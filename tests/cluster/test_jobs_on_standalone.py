"""Extraction and ranking submitted to a real standalone cluster (``spark-submit --master
spark://127.0.0.1:PORT --archives nag-spark-env.tar.gz#environment``) give the same tables,
read back with ``deltalake``, as the same jobs run on the suite's local Spark session; each
worker's executor loads the model once.

Each executor ran from its unpacked copy of the archive (checked below; the fault tests
also see the Python workers' command line, ``./environment/bin/python``). Ranking goes
through ``nag-submit --ship-env`` with the venv *not* on ``PATH``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

sys.path.append(str(Path(__file__).parent))  # after tests/: "conftest" stays the suite's
from submit_fixtures import (REPO, TINY_ARGS, VENV_BIN, cluster_conf, load_logs, run,  # noqa: E402
                             submit_env)
from tiny_model import write_docs  # noqa: E402

from nag_spark.spark.extract import ExtractOptions, run_extraction  # noqa: E402
from nag_spark.spark.rank import run_ranking  # noqa: E402
from nag_spark.spark.rank.options import RankOptions  # noqa: E402

N_POOL, N_TARGET = 200, 40


def _docs(path: Path) -> list[str]:
    ids = [f"p{i:04d}" for i in range(N_POOL)] + [f"t{i:03d}" for i in range(N_TARGET)]
    write_docs(path, ids, row_group_size=80, dataset=["pool"] * N_POOL + ["tgt"] * N_TARGET)
    return ids


def _table(path) -> tuple[pd.DataFrame, dict]:
    table = DeltaTable(str(path))
    df = table.to_pandas().sort_values(["target", "docid"] if "target" in table.schema().to_arrow().names
                                       else "docid").reset_index(drop=True)
    for col in df.columns:
        if df[col].dtype == object and len(df) and hasattr(df[col].iloc[0], "tolist"):
            df[col] = df[col].map(lambda a: tuple(a.tolist()))
    return df, dict(table.metadata().configuration)


def _same_features(local, remote) -> None:
    (a, pa), (b, pb) = _table(local), _table(remote)
    assert len(a) == N_POOL + N_TARGET and a["docid"].is_unique
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert pa == pb, {k: (pa.get(k), pb.get(k)) for k in set(pa) | set(pb) if pa.get(k) != pb.get(k)}


def _same_selection(local, remote) -> None:
    (a, pa), (b, pb) = _table(local), _table(remote)
    assert 0 < len(a) < N_POOL and a["target"].nunique() == 1 and a["docid"].is_unique
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    # The MLflow run and the pool table's path differ by construction; the rest is equal.
    differ = {k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k)}
    assert differ <= {"nag.mlflow_run_id", "nag.pool_table"}, differ


def _assert_shipped_environment(env: Path) -> None:
    """What the executor unpacked: the packed venv with a regular install of nag-spark
    (no editable link back to this checkout) and without Spark's jars."""
    assert (env / "bin" / "python").exists() and (env / "bin" / "activate").is_file()
    (site,) = env.glob("lib/python3*/site-packages")
    for needed in ("nag_spark/spark/extract/worker.py", "torch/__init__.py", "transformers/__init__.py",
                   "pyspark/__init__.py", "deltalake/__init__.py", "numba/__init__.py"):
        assert (site / needed).is_file(), needed
    assert not (site / "pyspark" / "jars").exists()
    assert not list(site.glob("__editable__*")) and not list(site.glob("*.egg-link"))
    assert len(list(site.glob("nag_spark-*.dist-info/RECORD"))) == 1


def test_extract_and_rank_on_the_cluster_equal_the_local_run(
        spark, cluster, env_archive, tiny_model, tmp_path, mlflow_uri):
    inp = tmp_path / "docs.parquet"
    _docs(inp)
    extract_args = ["--input", str(inp), "--model", tiny_model, "--chunk-docs", "40", *TINY_ARGS,
                    "--no-mlflow"]
    run_extraction(spark, ExtractOptions(str(inp), str(tmp_path / "local-feats"), model=tiny_model,
                                         max_length=64, top_k=4, dtype="float32", batch_tokens=256,
                                         chunk_docs=40, track=False))
    log = tmp_path / "extract.log"
    cmd = [str(VENV_BIN / "spark-submit"), *cluster_conf(cluster, env_archive),
           "--conf", "spark.nag.extract.load_log=loads.tsv",
           str(REPO / "jobs" / "extract.py"), *extract_args, "--output", str(tmp_path / "feats")]
    assert run(cmd, log, tmp_path, submit_env()) == 0, log.read_text()[-6000:]
    _same_features(tmp_path / "local-feats", tmp_path / "feats")

    # One executor per worker, each of whose Python workers loaded the model once.
    for i in (1, 2):
        loads = load_logs(cluster.worker_dir(i))
        assert len(loads) == 1 and [len(v) for v in loads.values()] == [1], (i, loads)
        (executor,) = loads
        _assert_shipped_environment(cluster.worker_dir(i) / executor / "environment")

    rank_args = ["--target-filter", "dataset=tgt", "--fraction", "0.3", "--experiment", "cluster-test"]
    run_ranking(spark, RankOptions(targets=["dataset=tgt"], pool=str(tmp_path / "local-feats"),
                                   output=str(tmp_path / "local-sel"), fraction=0.3,
                                   experiment="cluster-test"))
    # nag-submit, with the venv not on PATH: it finds its own Spark and Python.
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    log = tmp_path / "rank.log"
    cmd = [str(VENV_BIN / "nag-submit"), "--ship-env", str(env_archive), *cluster_conf(cluster, None),
           str(REPO / "jobs" / "rank.py"), "--pool", str(tmp_path / "feats"),
           "--output", str(tmp_path / "sel"), *rank_args]
    assert run(cmd, log, tmp_path, submit_env(PATH=path, MLFLOW_TRACKING_URI=mlflow_uri)) == 0, \
        log.read_text()[-6000:]
    _same_selection(tmp_path / "local-sel", tmp_path / "sel")
