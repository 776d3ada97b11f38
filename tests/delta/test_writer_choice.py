"""Which writer a session gets.

Spark's own Delta writer cannot run here: the Delta jars are not on the classpath and Maven
is unreachable, so the ``spark`` path is covered by its decision logic only (and by the
refusal to use it without jars). It is enabled by starting Spark with
``--packages io.delta:delta-spark_2.13:<version>`` (or on Databricks, where it is automatic).
"""
from __future__ import annotations

import pytest

from nag_spark.delta import read_table, write_table
from nag_spark.delta.location import is_table_name
from nag_spark.delta.writer_choice import choose_writer, delta_jars_on_classpath, writer_for
from nag_spark.errors import ConfigError, TableError


@pytest.mark.parametrize("setting, jars, connect, expected", [
    (None, False, False, "deltars"),
    ("auto", False, False, "deltars"),
    ("auto", True, False, "spark"),
    (" AUTO ", True, False, "spark"),
    ("auto", False, True, "spark"),      # Spark Connect: Delta lives on the server
    ("deltars", True, False, "deltars"),  # forced, even with the jars
    ("spark", True, False, "spark"),
    ("spark", False, True, "spark"),
])
def test_choose_writer(setting, jars, connect, expected):
    assert choose_writer(setting, jars, connect) == expected


def test_forcing_spark_without_jars_or_unknown_setting_fails():
    with pytest.raises(ConfigError, match="--packages io.delta"):
        choose_writer("spark", jars_available=False)
    with pytest.raises(ConfigError, match="auto, spark, deltars"):
        choose_writer("parquet", jars_available=True)


def test_this_session_uses_deltars_and_env_wins(spark, monkeypatch, caplog):
    assert not delta_jars_on_classpath(spark)
    assert writer_for(spark) == "deltars"
    monkeypatch.setenv("NAG_DELTA_WRITER", "spark")
    with pytest.raises(ConfigError, match="not on Spark's classpath"):
        writer_for(spark)
    monkeypatch.setenv("NAG_DELTA_WRITER", "deltars")
    assert writer_for(spark) == "deltars"
    monkeypatch.delenv("NAG_DELTA_WRITER")
    spark.conf.set("spark.nag.delta.writer", "bogus")
    try:
        with pytest.raises(ConfigError, match="bogus"):
            writer_for(spark)
    finally:
        spark.conf.set("spark.nag.delta.writer", "auto")


def test_table_names_need_the_spark_writer(spark, features_frame):
    assert is_table_name("main.nag.features")
    assert not is_table_name("features.delta") and not is_table_name("/data/a.b.c")
    with pytest.raises(TableError, match="catalog.schema.table"):
        read_table(spark, "main.nag.features")
    with pytest.raises(TableError, match="give a path|Give a path"):
        write_table(features_frame(1), "main.nag.features")

