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


def features_like(spark, n: int, offset: int = 0, partitions: int = 2):
    """A features-like frame: docid, dataset, token_num, n_tokens, array<short>, array<int>,
    timestamp (shared with the in-process tests so both write the same schema)."""
    from pyspark.sql import functions as F

    return spark.range(offset, offset + n, numPartitions=partitions).select(
        F.format_string("doc-%06d", "id").alias("docid"),
        F.when(F.col("id") % 2 == 0, "web").otherwise("books").alias("dataset"),
        F.col("id").alias("token_num"),
        (F.col("id") % 120).cast("int").alias("n_tokens"),
        F.array(F.col("id").cast("short"), (F.col("id") * 3 % 1000).cast("short")).alias("fwd_up"),
        F.array((F.col("id") + 40000).cast("int")).alias("att_q"),
        F.timestamp_micros(F.lit(1_700_000_000_123_456) + F.col("id")).alias("ts"),
    )


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
    df = features_like(spark, args.rows, args.offset)
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
