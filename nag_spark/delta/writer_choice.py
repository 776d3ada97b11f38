"""Which Delta writer a session uses: Spark's own (``spark``) or delta-rs (``deltars``).

The choice is automatic (``auto``): Spark's Delta writer where its jars are on the JVM
classpath (Databricks, ``spark-submit --packages io.delta:delta-spark_2.13:...``), delta-rs
otherwise. ``spark.nag.delta.writer`` or the env variable ``NAG_DELTA_WRITER`` (which wins)
force one. The decision itself is a pure function so it can be tested without the jars.
"""
from __future__ import annotations

from ..config import nag_setting
from ..errors import ConfigError
from ..logs import get_logger

log = get_logger(__name__)

WRITER_SETTING = "delta.writer"
WRITERS = ("auto", "spark", "deltars")
# A class only the delta-spark jar ships; loadable means format("delta") works.
DELTA_PROBE_CLASS = "org.apache.spark.sql.delta.DeltaLog"

_logged: set[tuple[str, str]] = set()


def choose_writer(setting: str | None, jars_available: bool, spark_connect: bool = False) -> str:
    """Decide the writer from the setting and what the session offers.

    Parameters
    ----------
    setting : str or None
        ``auto`` (the default when None or empty), ``spark`` or ``deltars``.
    jars_available : bool
        Whether the Delta jars are loadable in the driver JVM.
    spark_connect : bool
        A Spark Connect session (Databricks serverless) has no local JVM to probe; Delta is
        always there on the server side, so ``auto`` means ``spark``.

    Returns
    -------
    str
        ``"spark"`` or ``"deltars"``.

    Examples
    --------
    >>> choose_writer("auto", jars_available=False)
    'deltars'
    >>> choose_writer(None, jars_available=True)
    'spark'
    """
    value = (setting or "auto").strip().lower()
    if value not in WRITERS:
        raise ConfigError(
            f"spark.nag.delta.writer / NAG_DELTA_WRITER is {setting!r}; "
            f"use one of {', '.join(WRITERS)}"
        )
    if value == "deltars":
        return "deltars"
    available = jars_available or spark_connect
    if value == "spark":
        if not available:
            raise ConfigError(
                "spark.nag.delta.writer=spark but the Delta jars are not on Spark's classpath "
                f"({DELTA_PROBE_CLASS} is not loadable); start Spark with "
                "--packages io.delta:delta-spark_2.13:<version> or use 'auto'/'deltars'"
            )
        return "spark"
    return "spark" if available else "deltars"


def is_spark_connect(spark) -> bool:
    """True for a Spark Connect session (no py4j gateway in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def delta_jars_on_classpath(spark) -> bool:
    """Whether the driver JVM can load Delta's classes."""
    if is_spark_connect(spark):
        return False
    jvm = spark.sparkContext._jvm
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(DELTA_PROBE_CLASS, False, loader)
        return True
    except Exception:  # py4j wraps ClassNotFoundException; any failure means "not usable"
        return False


def writer_setting(spark) -> str | None:
    """The configured writer (env ``NAG_DELTA_WRITER`` first, then the Spark conf)."""
    key = "spark.nag." + WRITER_SETTING
    conf = {}
    if spark is not None:
        value = spark.conf.get(key, None)
        if value is not None:
            conf[key] = value
    return nag_setting(conf, WRITER_SETTING)


def writer_for(spark) -> str:
    """The writer this session uses; the decision is logged once per process and outcome."""
    setting = writer_setting(spark)
    if (setting or "auto").strip().lower() == "deltars":
        jars = False  # no need to probe the JVM for a forced choice
    else:
        jars = delta_jars_on_classpath(spark)
    connect = is_spark_connect(spark)
    choice = choose_writer(setting, jars, connect)
    if (setting or "auto", choice) not in _logged:
        _logged.add((setting or "auto", choice))
        log.info(
            "Delta writer: %s (setting %s; Delta jars on classpath: %s%s)",
            choice, setting or "auto", jars, "; Spark Connect" if connect else "",
        )
    return choice
