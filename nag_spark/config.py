"""Named settings: Spark profiles (``conf/<name>.yaml``) and target definitions.

A profile holds Spark settings (``spark:``) and nag-spark settings (``nag:``). nag-spark
settings travel inside the Spark conf under the ``spark.nag.`` prefix, because spark-submit
drops ``--conf`` keys that do not start with ``spark.``: a user overrides one with
``--conf spark.nag.delta.writer=deltars``.

The conf folder is found, in order, from ``NAG_SPARK_CONF_DIR``, then the ``conf/`` folder
next to the ``nag_spark`` package (a source checkout or editable install).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from .errors import ConfigError

NAG_CONF_PREFIX = "spark.nag."
DEFAULT_PROFILE = "local"


def conf_dir() -> Path:
    """The folder holding the profiles and ``targets.yaml``."""
    env = os.environ.get("NAG_SPARK_CONF_DIR")
    if env:
        path = Path(env)
    else:
        path = Path(__file__).resolve().parent.parent / "conf"
    if not path.is_dir():
        raise ConfigError(
            f"nag-spark conf folder not found at {path}; set NAG_SPARK_CONF_DIR to the folder "
            "holding local.yaml, cluster-gpu.yaml, databricks.yaml and targets.yaml"
        )
    return path


def available_profiles() -> list[str]:
    return sorted(p.stem for p in conf_dir().glob("*.yaml") if p.stem != "targets")


@dataclass(frozen=True)
class Profile:
    """A named group of settings from ``conf/<name>.yaml``."""

    name: str
    spark: Mapping[str, str] = field(default_factory=dict)
    nag: Mapping[str, str] = field(default_factory=dict)
    use_active_session: bool = False
    description: str = ""

    def spark_conf(self) -> dict[str, str]:
        """Spark settings plus nag settings under the ``spark.nag.`` prefix."""
        out = {str(k): str(v) for k, v in self.spark.items()}
        out.update({NAG_CONF_PREFIX + str(k): str(v) for k, v in self.nag.items()})
        return out


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def load_profile(name: str = DEFAULT_PROFILE) -> Profile:
    """Load ``conf/<name>.yaml``.

    >>> load_profile("local").spark["spark.master"]
    'local[*]'
    """
    path = conf_dir() / f"{name}.yaml"
    if name == "targets" or not path.is_file():
        raise ConfigError(
            f"unknown profile {name!r}; known profiles: {', '.join(available_profiles())} "
            f"(files in {conf_dir()})"
        )
    data = _read_yaml(path)
    for section in ("spark", "nag"):
        if not isinstance(data.get(section, {}) or {}, dict):
            raise ConfigError(f"{path}: section {section!r} must be a mapping")
    return Profile(
        name=name,
        spark=data.get("spark") or {},
        nag=data.get("nag") or {},
        use_active_session=bool(data.get("use_active_session", False)),
        description=str(data.get("description", "")),
    )


def nag_setting(conf: Mapping[str, str] | None, key: str, default: str | None = None) -> str | None:
    """Read a nag-spark setting (``key`` without prefix) from a Spark conf mapping or the env.

    Environment variables ``NAG_<KEY>`` (dots and dashes as underscores, upper case) win over
    the Spark conf, so a single job can be steered without touching the profile.
    """
    env_key = "NAG_" + key.replace(".", "_").replace("-", "_").upper()
    if env_key in os.environ:
        return os.environ[env_key]
    if conf is not None and (NAG_CONF_PREFIX + key) in conf:
        return conf[NAG_CONF_PREFIX + key]
    return default


@dataclass(frozen=True)
class TargetSpec:
    """Which rows of a target features table form one target."""

    name: str
    column: str
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.column} in ({', '.join(self.values)})"


def load_targets(path: str | os.PathLike | None = None) -> dict[str, TargetSpec]:
    """Target definitions from ``conf/targets.yaml`` (or ``path``)."""
    path = Path(path) if path else conf_dir() / "targets.yaml"
    data = _read_yaml(path).get("targets") or {}
    out: dict[str, TargetSpec] = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or "column" not in spec or "values" not in spec:
            raise ConfigError(f"{path}: target {name!r} needs 'column' and 'values'")
        values = spec["values"]
        if isinstance(values, str):
            values = [values]
        out[str(name)] = TargetSpec(str(name), str(spec["column"]), tuple(str(v) for v in values))
    return out


def resolve_target(name: str, path: str | os.PathLike | None = None) -> TargetSpec:
    """Look a target up by name; ``COL=VALUE[|VALUE...]`` defines one inline."""
    if "=" in name:
        column, _, values = name.partition("=")
        if not column or not values:
            raise ConfigError(f"target filter {name!r} must look like COLUMN=VALUE")
        return TargetSpec(name, column.strip(), tuple(v.strip() for v in values.split("|")))
    targets = load_targets(path)
    if name not in targets:
        raise ConfigError(
            f"unknown target {name!r}; known targets: {', '.join(sorted(targets))} "
            "(add one to conf/targets.yaml or pass --target-filter COL=VALUE)"
        )
    return targets[name]
