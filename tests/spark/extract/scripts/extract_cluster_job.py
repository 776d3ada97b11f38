"""Run extraction twice on ``local-cluster[2,1,1024]`` (two executor JVMs) with a model-load log.

Prints ``LOADS <path>`` and ``EXECUTORS <n>`` and the two result versions.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from nag_spark.session import get_spark  # noqa: E402
from nag_spark.spark.extract import ExtractOptions, run_extraction  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--load-log", required=True)
    args = p.parse_args()
    spark = get_spark("local", app_name="extract-cluster-test", overrides={
        "spark.master": "local-cluster[2,1,1024]", "spark.default.parallelism": "2",
        "spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g",
        "spark.executor.memory": "1g", "spark.nag.extract.load_log": args.load_log,
    })
    sc = spark.sparkContext
    deadline = time.time() + 120
    # Both executors registered before any task, so both get work.
    while sc._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.time() < deadline:
        time.sleep(0.5)
    for i in range(2):  # two jobs: the second must reuse the workers' cached models
        res = run_extraction(spark, ExtractOptions(
            input=args.input, output=f"{args.out}/run{i}", max_length=16, chunk_docs=6,
            track=False, progress_seconds=5))
        print(f"RUN {i} DOCS {res.docs_processed} VERSION {res.version}", flush=True)
    print(f"EXECUTORS {sc._jsc.sc().getExecutorMemoryStatus().size() - 1}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
