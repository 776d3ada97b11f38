"""Append rows to a Delta table from a fresh process (own SparkContext).

Used by the Delta tests for what a shared in-process session cannot show: a writer killed
mid-write, two writers at once, and a write from separate executor JVMs (local-cluster).
Prints ``VERSION <n>`` on success.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from nag_spark.delta import insert_if_absent, table_version, write_table  # noqa: E402
from nag_spark.session import get_spark  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", required=True)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--master", default="local[1]")
    parser.add_argument("--insert", action="store_true", help="insert_if_absent on docid")
    parser.add_argument("--job", default="test-writer")
    args = parser.parse_args()

    spark = get_spark("local", app_name=args.job, overrides={
        "spark.master": args.master, "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2", "spark.driver.memory": "1g",
        "spark.executor.memory": "512m",
    })
    from pyspark.sql import functions as F

    df = spark.range(args.offset, args.offset + args.rows, numPartitions=2).select(
        F.format_string("doc-%06d", "id").alias("docid"),
        F.col("id").alias("token_num"),
        F.array(F.col("id").cast("short"), (F.col("id") + 1).cast("short")).alias("fwd_up"),
        F.spark_partition_id().alias("written_by_partition"),
    )
    info = {"job": args.job, "mlflow_run_id": f"run-{args.offset}"}
    props = {"nag.kind": "features"}
    if args.insert:
        version, _ = insert_if_absent(df, args.path, properties=props, commit_info=info)
    else:
        version = write_table(df, args.path, properties=props, commit_info=info)
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
    print(f"VERSION {version} NOW {table_version(args.path)} EXECUTOR_ENDPOINTS {executors}",
          flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
