"""Notebook parameters that work on Databricks (widgets) and as plain Python (defaults).

The notebooks in ``notebooks/`` call :func:`notebook_params` once with their defaults and
``globals().get("dbutils")``:

- on Databricks, each parameter becomes a text widget (created once, keeping what the
  user typed) and its current value is read back;
- anywhere else (plain ``python notebooks/02_rank.py``, CI, a laptop), the value is the
  environment variable ``NAG_NB_<NAME>`` when set, else the default.

:func:`notebook_spark` then gives the cluster's session on Databricks and a session from
the ``local`` profile elsewhere, so no notebook carries logic of its own.
"""
from __future__ import annotations

import os
from typing import Mapping

from .logs import get_logger

log = get_logger(__name__)

ENV_PREFIX = "NAG_NB_"


def on_databricks() -> bool:
    """Whether this process runs on a Databricks cluster."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def env_name(name: str) -> str:
    """``NAG_NB_<NAME>``: the environment override of parameter ``name`` outside Databricks."""
    return ENV_PREFIX + name.replace("-", "_").replace(".", "_").upper()


def notebook_params(defaults: Mapping[str, object], dbutils=None,
                    labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """The notebook's parameters as strings, from widgets or from env/defaults.

    Parameters
    ----------
    defaults : mapping of name -> default value
        Parameter names in order; values are turned into strings (widgets hold text).
    dbutils : object, optional
        The notebook's ``dbutils`` (pass ``globals().get("dbutils")``); ``None`` off Databricks.
    labels : mapping of name -> label, optional
        Widget labels shown above the inputs.

    Examples
    --------
    >>> import os
    >>> os.environ["NAG_NB_FRACTION"] = "0.1"
    >>> notebook_params({"fraction": 0.2, "target": "hellaswag"})
    {'fraction': '0.1', 'target': 'hellaswag'}
    >>> del os.environ["NAG_NB_FRACTION"]
    """
    values: dict[str, str] = {}
    for name, default in defaults.items():
        text = "" if default is None else str(default)
        if dbutils is not None:
            try:
                values[name] = dbutils.widgets.get(name)
                continue
            except Exception:  # no such widget yet: create it (first run of the notebook)
                dbutils.widgets.text(name, text, (labels or {}).get(name, name))
                values[name] = dbutils.widgets.get(name)
                continue
        values[name] = os.environ.get(env_name(name), text)
    log.info("notebook parameters: %s", ", ".join(f"{k}={v!r}" for k, v in values.items()))
    return values


def default_experiment() -> str:
    """MLflow experiment default: a workspace path on Databricks, a plain name elsewhere."""
    return "/Shared/nag-spark" if on_databricks() else "nag-spark"


def notebook_spark(profile: str | None = None):
    """The Spark session: the cluster's on Databricks, the ``local`` profile's elsewhere.

    ``profile`` (or env ``NAG_NB_PROFILE``) overrides the choice. On Databricks the
    workspace MLflow is used unless ``MLFLOW_TRACKING_URI`` says otherwise (the library's
    own default is a local sqlite store, right for a laptop, wrong on a cluster).
    """
    from .session import get_spark

    if on_databricks():
        os.environ.setdefault("MLFLOW_TRACKING_URI", "databricks")
    name = profile or os.environ.get(env_name("profile")) or ("databricks" if on_databricks() else "local")
    return get_spark(name, app_name="nag-spark notebook")


def as_list(text: str) -> list[str]:
    """A comma-separated widget value as a list (empty items dropped)."""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def as_int(text: str) -> int | None:
    """An integer widget value; empty means ``None``."""
    return int(text) if str(text).strip() else None


def show(*frames, display=None) -> None:
    """Show pandas DataFrames: Databricks' ``display`` when given, else as text."""
    for frame in frames:
        if display is not None:
            display(frame.reset_index())
        else:
            print(frame.to_string(), end="\n\n")
