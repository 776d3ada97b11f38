"""Building the Spark session from a named profile.

Precedence, highest first: settings spark-submit was given (``--master``, ``--conf``), the
``overrides`` passed by the caller, then the profile. On Databricks (``use_active_session``)
or when a session is already active, that session is returned as it is.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Mapping

from .config import DEFAULT_PROFILE, Profile, load_profile
from .logs import get_logger

log = get_logger(__name__)


JAVA_HINT = ("nag-spark needs Java 17 or 21 for Spark: 'apt-get install openjdk-17-jre-headless' "
             "(Debian/Ubuntu) or 'brew install openjdk@17' (macOS), or set JAVA_HOME")


def java_executable() -> str:
    """The ``java`` Spark will start (``JAVA_HOME``'s, else the one on ``PATH``), or a
    :class:`~nag_spark.errors.ConfigError` saying how to get one."""
    import shutil

    from .errors import ConfigError

    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise ConfigError(JAVA_HINT + (f" (JAVA_HOME={home} has no bin/java)" if home else ""))
    return java


def check_spark_runtime() -> None:
    """Spark can start from this Python: pyspark importable, and Java there for a new JVM.

    One clear line instead of an ImportError or PySpark's "Java gateway process exited".
    """
    from .errors import ConfigError

    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ConfigError(f"Spark (pyspark) cannot be found by {sys.executable}: run the job with "
                          "the project's venv (`source .venv/bin/activate`, then spark-submit or "
                          "python; or .venv/bin/nag-submit)") from None
    if not _launched_by_spark_submit():
        java_executable()


def _launched_by_spark_submit() -> bool:
    # spark-submit starts the Python driver with the gateway already listening.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(
    profile: str | Profile = DEFAULT_PROFILE,
    app_name: str = "nag-spark",
    overrides: Mapping[str, str] | None = None,
):
    """Return a SparkSession configured from ``profile``.

    Examples
    --------
    >>> spark = get_spark("local", app_name="example")   # doctest: +SKIP
    >>> spark.conf.get("spark.nag.delta.writer")          # doctest: +SKIP
    'auto'
    """
    check_spark_runtime()
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    active = SparkSession.getActiveSession()
    if active is not None:
        if prof.use_active_session:
            log.info("using the active Spark session (profile %s)", prof.name)
        return active
    if prof.use_active_session:
        # Databricks notebooks and jobs always have a session; getOrCreate returns it.
        return SparkSession.builder.getOrCreate()

    wanted = prof.spark_conf()
    wanted.update({str(k): str(v) for k, v in (overrides or {}).items()})
    # Executors must run the same interpreter (the project's venv), not whatever is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

    if _launched_by_spark_submit():
        SparkContext._ensure_initialized()
        conf = SparkConf()  # JVM-backed: holds what spark-submit was given
        for key, value in wanted.items():
            if not conf.contains(key):
                conf.set(key, value)
    else:
        conf = SparkConf()
        for key, value in wanted.items():
            conf.set(key, value)
    master = conf.get("spark.master", None)
    if master and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf.setAppName(app_name) if not conf.contains("spark.app.name") else None
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("NAG_SPARK_LOG_LEVEL", "WARN"))
    log.info(
        "Spark %s session: master=%s profile=%s app=%s",
        spark.version, spark.sparkContext.master, prof.name, spark.sparkContext.appName,
    )
    return spark


@contextlib.contextmanager
def session_conf(spark, settings: Mapping[str, str]):
    """The session's SQL ``settings`` for the ``with`` block, then each as it was (unset
    where it was unset): a job tunes one step without changing the user's session."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
