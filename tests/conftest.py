"""Shared fixtures: one real local Spark session for the suite, the shared real data.

Tests that need separate executor JVMs (``local-cluster``) cannot share this session (one
SparkContext per process): they run a job in a subprocess instead; see ``run_job``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NAG_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    """A real ``local[2]`` Spark session shared by the whole suite."""
    from nag_spark.session import get_spark

    session = get_spark(
        "local",
        app_name="nag-spark-tests",
        overrides={
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.driver.memory": "3g",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real public text); tests that need it skip loudly if it is absent."""
    if not (SHARED_DATA / "pool.parquet").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set NAG_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """A real local MLflow store (sqlite) for the suite; never the working directory's."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{path}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return uri


def run_job(args: list[str], *, env: dict | None = None, timeout: int = 600,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repo root in a fresh process (own SparkContext)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=full_env, capture_output=True, text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
            f"stderr:\n{proc.stderr[-8000:]}"
        )
    return proc


# --- SmolLM2 features of a fixed sample of the shared data (extraction owner) -------------
SMOLLM2_POOL_DOCS = 300       # stratified over the pool's datasets
SMOLLM2_TARGET_DOCS = 80      # per target split
SMOLLM2_TARGET_SPLITS = ("hellaswag_train", "arc_c_train")


def _fixture_sample(shared: Path, out: Path) -> None:
    """Write the fixed sample: pool rows stratified by dataset, 80 rows per target split.

    Rows are ordered by md5(docid) inside each dataset, so the sample is spread over the
    dataset yet identical on every machine and run.
    """
    import hashlib

    import pyarrow.parquet as pq

    def ordered(df):
        return df.assign(_h=df["docid"].map(lambda d: hashlib.md5(d.encode()).hexdigest())) \
                 .sort_values("_h").drop(columns="_h")

    pool = pq.read_table(shared / "pool.parquet").to_pandas()
    shares = pool["dataset"].value_counts(normalize=True).sort_index()
    parts = [ordered(pool[pool["dataset"] == ds]).head(max(2, round(SMOLLM2_POOL_DOCS * share)))
             for ds, share in shares.items()]
    import pandas as pd

    pd.concat(parts).reset_index(drop=True).to_parquet(out / "pool_sample.parquet", index=False)
    targets = pq.read_table(shared / "targets.parquet").to_pandas()
    tparts = [ordered(targets[targets["dataset"] == ds]).head(SMOLLM2_TARGET_DOCS)
              for ds in SMOLLM2_TARGET_SPLITS]
    pd.concat(tparts).reset_index(drop=True).to_parquet(out / "targets_sample.parquet", index=False)


@pytest.fixture(scope="session")
def smollm2_features(spark, shared_data) -> dict:
    """SmolLM2-135M ``fwd_up`` features (K=20, max_length 120) of a fixed sample.

    Returns ``{"pool": path, "targets": path}``: Delta features tables (docs/CONTRACT.md) of
    ~300 pool documents stratified over the pool's datasets and 80 rows each of
    ``hellaswag_train`` and ``arc_c_train``. Treat them as read-only.

    They are kept across test sessions in ``NAG_TEST_CACHE`` (default
    ``~/.cache/nag-spark/test-fixtures``) under a key of the extraction code and sample, so
    only the first session pays the extraction (a couple of minutes on 2 cores); an
    interrupted first session is completed by the next (extraction resumes).
    """
    import hashlib

    from nag_spark.spark.extract import ExtractOptions, run_extraction

    code = hashlib.sha256()
    # The code that decides the feature values (not logging or orchestration).
    for rel in ("nag_spark/kernels/impact.py", "nag_spark/spark/extract/worker.py"):
        code.update((REPO / rel).read_bytes())
    code.update(f"{SMOLLM2_POOL_DOCS}/{SMOLLM2_TARGET_DOCS}/{SMOLLM2_TARGET_SPLITS}".encode())
    root = Path(os.environ.get("NAG_TEST_CACHE", Path.home() / ".cache" / "nag-spark" / "test-fixtures"))
    folder = root / f"smollm2-fwd_up-k20-l120-{code.hexdigest()[:12]}"
    done = folder / "COMPLETE"
    out = {"pool": str(folder / "pool_features"), "targets": str(folder / "targets_features")}
    if done.is_file():
        return out
    from nag_spark.models.cache import exclusive_lock

    folder.mkdir(parents=True, exist_ok=True)
    # Test processes (xdist) share the cache: one extracts, the others wait for it.
    with exclusive_lock(folder.with_name(folder.name + ".lock")):
        if done.is_file():
            return out
        _fixture_sample(shared_data, folder)
        for name in ("pool", "targets"):
            run_extraction(spark, ExtractOptions(
                input=str(folder / f"{name}_sample.parquet"), output=out[name],
                model="smollm2-135m", neuron_types=("fwd_up",), top_k=20, max_length=120,
                track=False))
        done.write_text("ok\n")
    return out
