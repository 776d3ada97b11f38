"""A Delta write from separate executor JVMs (``local-cluster[2,1,1024]``).

The executors write the parquet files into the table's staging folder on the shared
filesystem and the driver commits them; the insert-if-absent anti-join runs distributed.
local-cluster works with the pip-installed pyspark as it is: pyspark's launcher finds its
own package folder as SPARK_HOME and starts the workers from its ``bin``/``jars``; the
executors run the same interpreter because ``get_spark`` sets ``PYSPARK_PYTHON``.
"""
from __future__ import annotations

import re

from conftest import run_job


def test_insert_from_local_cluster(spark, tmp_path, features_frame, check):
    path = tmp_path / "t"
    from nag_spark.delta import write_table

    write_table(features_frame(10), path, properties={"nag.kind": "features"})
    proc = run_job(["tests/delta/scripts/delta_write_job.py", "--path", str(path),
                    "--master", "local-cluster[2,1,1024]", "--insert", "--offset", "5",
                    "--rows", "25", "--job", "cluster-writer"], timeout=500)
    found = re.search(r"VERSION (\d+) NOW (\d+) EXECUTOR_ENDPOINTS (\d+)", proc.stdout)
    assert found, proc.stdout + proc.stderr[-3000:]
    version, now, endpoints = map(int, found.groups())
    assert endpoints == 3  # the driver and two executor JVMs
    delta = check(path)
    assert version == now == delta.version()
    assert delta.history()[0]["job"] == "cluster-writer"
    pl_df = delta.polars()
    assert pl_df.height == 30 and pl_df["docid"].n_unique() == 30
    assert delta.duckdb_count() == 30
