"""Notebook parameters: Databricks widgets when dbutils exists, env/defaults otherwise."""
from __future__ import annotations

from nag_spark.notebook_widgets import as_int, as_list, default_experiment, env_name, notebook_params


class FakeWidgets:
    """The part of ``dbutils.widgets`` the helper uses, with Databricks' behaviour."""

    def __init__(self, preset=None):
        self.values = dict(preset or {})
        self.created = []

    def get(self, name):
        if name not in self.values:
            raise ValueError(f"InputWidgetNotDefined: {name}")  # what Databricks raises, roughly
        return self.values[name]

    def text(self, name, default, label):
        self.created.append((name, default, label))
        self.values.setdefault(name, default)


class FakeDbutils:
    def __init__(self, preset=None):
        self.widgets = FakeWidgets(preset)


def test_widgets_are_created_once_and_read_back():
    dbutils = FakeDbutils({"fraction": "0.05"})  # the user already typed a fraction
    params = notebook_params({"fraction": 0.2, "target": "hellaswag"}, dbutils=dbutils,
                             labels={"target": "Target"})
    assert params == {"fraction": "0.05", "target": "hellaswag"}
    assert dbutils.widgets.created == [("target", "hellaswag", "Target")]


def test_env_overrides_defaults_without_dbutils(monkeypatch):
    monkeypatch.setenv(env_name("pool-features"), "/tmp/x")
    assert env_name("pool-features") == "NAG_NB_POOL_FEATURES"
    params = notebook_params({"pool-features": "a", "limit": None})
    assert params == {"pool-features": "/tmp/x", "limit": ""}
    assert as_int(params["limit"]) is None and as_int("7") == 7
    assert as_list(" a, ,b ") == ["a", "b"]


def test_default_experiment(monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert default_experiment() == "nag-spark"
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    assert default_experiment().startswith("/")
