import pytest

from nag_spark.config import load_profile, load_targets, nag_setting, resolve_target
from nag_spark.errors import ConfigError


def test_local_profile_has_the_settled_defaults():
    conf = load_profile("local").spark_conf()
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert conf["spark.python.worker.reuse"] == "true"
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    # nag settings travel under spark.nag. so spark-submit --conf keeps them
    assert conf["spark.nag.delta.writer"] == "auto"


def test_every_profile_loads():
    for name in ("local", "cluster-gpu", "databricks"):
        assert load_profile(name).name == name
    assert load_profile("databricks").use_active_session


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown profile 'nope'.*cluster-gpu.*local"):
        load_profile("nope")


def test_paper_targets_use_the_release_splits():
    targets = load_targets()
    expected = {
        "hellaswag": "hellaswag_train", "arc_c": "arc_c_train", "mmlu": "mmlu_validation",
        "triviaqa": "triviaqa_train", "xstorycloze": "xstorycloze_train",
        "xwinograd": "xwinograd_test",
    }
    for name, split in expected.items():
        assert targets[name].column == "dataset"
        assert targets[name].values == (split,)


def test_unknown_target_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown target 'hellaswog'.*hellaswag"):
        resolve_target("hellaswog")


def test_inline_target_filter():
    spec = resolve_target("source=a|b")
    assert (spec.column, spec.values) == ("source", ("a", "b"))


def test_env_overrides_spark_conf(monkeypatch):
    conf = {"spark.nag.delta.writer": "spark"}
    assert nag_setting(conf, "delta.writer") == "spark"
    monkeypatch.setenv("NAG_DELTA_WRITER", "deltars")
    assert nag_setting(conf, "delta.writer") == "deltars"
    assert nag_setting({}, "missing.key", "dflt") == "dflt"
