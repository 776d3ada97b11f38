"""Starting MLflow runs and recording Delta tables as run datasets.

Where runs go: ``MLFLOW_TRACKING_URI`` when set (a server, Databricks, any store); on a
Databricks cluster (``DATABRICKS_RUNTIME_VERSION`` set) the workspace tracking server; else a
sqlite store ``mlruns.db`` in the current directory with artifacts under ``mlruns/``. The
URI is always set explicitly, so MLflow never guesses.

Every run carries the tag ``nag.kind`` (``extract``, ``rank``, ``compare``, ...) so tools can
refuse runs of the wrong kind, the library version, and its owner process.

A run never stays RUNNING after its job is gone: SIGTERM (what YARN, Kubernetes and
``kill`` send) ends it as FAILED before the process exits, and a job killed without a
chance to react (SIGKILL, a lost node) leaves a run whose owner process is dead, which the
next run started in the same experiment on that host marks FAILED.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Iterator, Mapping

from .. import __version__
from ..errors import ConfigError
from ..logs import get_logger
from .schema import KIND_TAG, OWNER_TAG, VERSION_TAG, table_tag

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
        try:
            exp_id = mlflow.create_experiment(name, artifact_location=location)
        except Exception:  # noqa: BLE001 - two jobs starting at once: the other one created it
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
            exp_id = exp.experiment_id
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
    exp_id = _ensure_experiment(experiment or DEFAULT_EXPERIMENT)
    all_tags = {KIND_TAG: kind, VERSION_TAG: __version__}
    all_tags.update(tags or {})
    all_tags[OWNER_TAG] = process_owner()
    fail_dead_runs(exp_id)
    with mlflow.start_run(run_name=run_name, tags=all_tags) as run, _failed_on_sigterm():
        log.info("MLflow run %s (%s) in experiment %r at %s", run.info.run_id, kind,
                 experiment or DEFAULT_EXPERIMENT, uri)
        yield run


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM: the run's context ends it as FAILED, the job's
    ``finally`` blocks clean up, and the process exits with 128 + the signal number."""


@contextlib.contextmanager
def _failed_on_sigterm():
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install handlers; a notebook's cell ends the run
        return

    def handler(signum, frame):
        log.warning("received signal %d: ending the MLflow run as FAILED", signum)
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _proc_stat(pid: int) -> tuple[str, str]:
    """``(state, start time in clock ticks since boot)`` of a process (Linux; else empty)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return "", ""


def _start_ticks(pid: int) -> str:
    """The process's start time, to tell a reused pid from the process that ran the run."""
    return _proc_stat(pid)[1]


def process_owner(pid: int | None = None) -> str:
    """``<host>:<pid>:<start>`` of this process (or of ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def owner_is_dead(owner: str) -> bool:
    """Whether the process named by a :func:`process_owner` tag is certainly gone.

    Only a process of this host can be checked; elsewhere the answer is False.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    state, now = _proc_stat(int(pid_text))
    # A killed driver whose parent died too may linger as a zombie nobody reaps.
    return state == "Z" or (bool(start) and now not in ("", start))


def fail_dead_runs(experiment_id: str) -> list[str]:
    """Mark FAILED the RUNNING runs of the experiment whose owner process is dead."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    dead = []
    try:
        running = client.search_runs([experiment_id], "attributes.status = 'RUNNING'",
                                     max_results=500)
    except Exception as exc:  # noqa: BLE001 - housekeeping must never stop a job
        log.debug("could not look for abandoned runs: %s", exc)
        return dead
    for run in running:
        owner = run.data.tags.get(OWNER_TAG)
        if owner and owner_is_dead(owner):
            client.set_terminated(run.info.run_id, status="FAILED")
            dead.append(run.info.run_id)
            log.warning("MLflow run %s was left RUNNING by a job that died (%s): marked FAILED",
                        run.info.run_id, owner)
    return dead


def check_tracking_store() -> str:
    """Refuse, before any work, a local tracking store this process cannot write; returns
    the tracking URI.

    A sqlite or file store in a read-only folder would otherwise fail when the run starts
    or, for jobs that log at the end, after all the work.

    Raises
    ------
    ConfigError
        Naming the store and what to do.
    """
    from urllib.parse import unquote, urlparse

    from ..delta.output_check import write_problem

    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        folder = os.path.dirname(uri[len("sqlite:///"):]) or "."
    elif uri.startswith("file:"):
        folder = unquote(urlparse(uri).path)
    elif "://" not in uri and uri not in ("databricks",) and not uri.startswith("databricks"):
        folder = uri
    else:
        return uri  # a server: its permissions are its own
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    problem = write_problem(folder or ".")
    if problem:
        raise ConfigError(f"MLflow tracking store {uri}: cannot write in {folder} ({problem}); "
                          "set MLFLOW_TRACKING_URI to a store this job may write, or turn "
                          "tracking off (--no-mlflow)")
    return uri


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
