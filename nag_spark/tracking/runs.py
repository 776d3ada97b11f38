"""Starting MLflow runs and recording Delta tables as run datasets.

Where runs go: ``MLFLOW_TRACKING_URI`` when set (a server, Databricks, any store); on a
Databricks cluster (``DATABRICKS_RUNTIME_VERSION`` set) the workspace tracking server; else a
sqlite store ``mlruns.db`` in the current directory with artifacts under ``mlruns/``. The
URI is always set explicitly, so MLflow never guesses.

Every run carries the tag ``nag.kind`` (``extract``, ``rank``, ``compare``, ...) so tools can
refuse runs of the wrong kind, and the library version.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Iterator, Mapping

from .. import __version__
from ..logs import get_logger
from .schema import KIND_TAG, VERSION_TAG, table_tag

log = get_logger(__name__)

DEFAULT_EXPERIMENT = "nag-spark"


def tracking_uri() -> str:
    """The tracking URI in force (and set it in MLflow)."""
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri and os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        uri = "databricks"  # jobs and notebooks on a cluster log to the workspace
    if not uri:
        uri = f"sqlite:///{Path.cwd() / 'mlruns.db'}"
    mlflow.set_tracking_uri(uri)
    return uri


def _ensure_experiment(name: str):
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        location = None
        uri = mlflow.get_tracking_uri()
        if uri.startswith("sqlite:///"):
            # Keep artifacts beside the sqlite file, not wherever the job happens to run.
            location = (Path(uri[len("sqlite:///"):]).parent / "mlruns" / name).as_uri()
        exp_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


@contextlib.contextmanager
def start_run(
    kind: str,
    experiment: str | None = None,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator["mlflow.ActiveRun"]:  # noqa: F821
    """Start an MLflow run of ``kind`` in ``experiment``; ends it (FAILED on error).

    Examples
    --------
    >>> with start_run("rank", experiment="demo") as run:   # doctest: +SKIP
    ...     mlflow.log_param("target", "hellaswag")
    """
    import mlflow

    uri = tracking_uri()
    _ensure_experiment(experiment or DEFAULT_EXPERIMENT)
    all_tags = {KIND_TAG: kind, VERSION_TAG: __version__}
    all_tags.update(tags or {})
    with mlflow.start_run(run_name=run_name, tags=all_tags) as run:
        log.info("MLflow run %s (%s) in experiment %r at %s", run.info.run_id, kind,
                 experiment or DEFAULT_EXPERIMENT, uri)
        yield run


def log_delta_table(path: str, version: int | None, context: str, name: str | None = None) -> None:
    """Record a Delta table at ``version`` as a dataset of the active run.

    ``context`` says its role: ``input``, ``target``, ``output``... MLflow has no output
    datasets for plain tables, so outputs are logged as datasets with context ``output``.
    """
    import mlflow
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    is_name = "/" not in path and "\\" not in path and path.count(".") == 2
    source = DeltaDatasetSource(
        path=None if is_name else path,
        delta_table_name=path if is_name else None,
        delta_table_version=version,
    )
    digest = hashlib.sha256(f"{path}@{version}".encode()).hexdigest()[:16]
    dataset = MetaDataset(source=source, name=name or Path(path).name, digest=digest)
    mlflow.log_input(dataset, context=context)
    mlflow.set_tag(table_tag(context), f"{path}@v{version}")


# Thin recorders for the active run, so modules outside ``tracking/`` never import mlflow.


def log_params(params: Mapping[str, object]) -> None:
    """Log parameters (values cut to MLflow's 500 characters)."""
    import mlflow

    mlflow.log_params({k: str(v)[:500] for k, v in params.items()})


def log_metrics(metrics: Mapping[str, object], step: int | None = None) -> None:
    """Log numeric metrics (at ``step``, for series); ``None`` and NaN values are left out."""
    import math

    import mlflow

    values = {k: float(v) for k, v in metrics.items() if v is not None}
    mlflow.log_metrics({k: v for k, v in values.items() if not math.isnan(v)}, step=step)


def set_tags(tags: Mapping[str, object]) -> None:
    import mlflow

    mlflow.set_tags({k: str(v) for k, v in tags.items()})


def log_json(value, artifact_file: str) -> None:
    """A dict or list as a JSON artifact at ``artifact_file``."""
    import mlflow

    mlflow.log_dict(value, artifact_file)


def log_file(path: str | os.PathLike, artifact_dir: str | None = None) -> None:
    import mlflow

    mlflow.log_artifact(os.fspath(path), artifact_dir)


def log_folder(path: str | os.PathLike, artifact_dir: str | None = None) -> None:
    import mlflow

    mlflow.log_artifacts(os.fspath(path), artifact_path=artifact_dir)
