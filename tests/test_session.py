"""Session building: profile defaults, and spark-submit's own settings winning over them.

Each case starts its own driver in a subprocess (one SparkContext per process), once with
plain ``python`` and once under the real ``spark-submit`` of the installed pyspark.
"""
import json
import os
import sys
from pathlib import Path

from conftest import REPO

SCRIPT = """
import json, sys
from nag_spark.session import get_spark
spark = get_spark("local", app_name="conf-probe")
keys = ["spark.master", "spark.sql.shuffle.partitions", "spark.nag.delta.writer",
        "spark.python.worker.reuse", "spark.sql.parquet.outputTimestampType"]
print("CONF=" + json.dumps({k: spark.conf.get(k) for k in keys}))
spark.stop()
"""


def _run(cmd, tmp_path):
    import subprocess

    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("CONF="))
    return json.loads(line[len("CONF="):])


def test_plain_python_gets_the_local_profile(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    conf = _run([sys.executable, str(script)], tmp_path)
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.nag.delta.writer"] == "auto"
    assert conf["spark.python.worker.reuse"] == "true"
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"


def test_spark_submit_settings_win_over_the_profile(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    spark_submit = Path(sys.executable).parent / "spark-submit"
    conf = _run([
        str(spark_submit), "--master", "local[1]",
        "--conf", "spark.sql.shuffle.partitions=3",
        "--conf", "spark.nag.delta.writer=deltars",
        str(script),
    ], tmp_path)
    assert conf["spark.master"] == "local[1]"
    assert conf["spark.sql.shuffle.partitions"] == "3"
    assert conf["spark.nag.delta.writer"] == "deltars"
    # settings spark-submit was not given still come from the profile
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"


def test_a_job_that_cannot_start_spark_says_why_in_one_line(tmp_path):
    """No Java for Spark: the job's one ``error:`` line and exit 2, not PySpark's traceback."""
    import subprocess

    env = dict(os.environ, JAVA_HOME=str(tmp_path / "no-jdk"), SPARK_LOCAL_IP="127.0.0.1")
    proc = subprocess.run([sys.executable, "jobs/extract.py", "--input", str(tmp_path / "x.parquet"),
                           "--output", str(tmp_path / "out")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "needs Java 17 or 21" in errors[0] and "no-jdk" in errors[0]


def test_session_conf_holds_for_the_block_then_restores_set_and_unset_keys(spark):
    from nag_spark.session import session_conf

    set_key, unset_key = "spark.sql.shuffle.partitions", "spark.nag.test.session_conf"
    before = spark.conf.get(set_key)
    spark.conf.set(set_key, "7")
    try:
        for fails in (False, True):
            try:
                with session_conf(spark, {set_key: "3", unset_key: "x"}):
                    assert (spark.conf.get(set_key), spark.conf.get(unset_key)) == ("3", "x")
                    if fails:
                        raise RuntimeError("the step failed")
            except RuntimeError:
                assert fails
            assert spark.conf.get(set_key) == "7" and spark.conf.get(unset_key, None) is None
    finally:
        spark.conf.set(set_key, before)
