"""The rank runs a comparison is about, as MLflow records them.

Runs come from MLflow (the local store, a tracking server or Databricks: whatever
:func:`~nag_spark.tracking.runs.tracking_uri` points at). Each rank run names its selection
table and the version it wrote (tags ``nag.output_path`` and ``nag.output_version``), so a
table overwritten by later runs still compares correctly; its ``stats/`` artifacts hold the
pool's composition and the distance histograms, so the pool itself is never read.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from ...errors import InputError
from ...logs import get_logger
from ..schema import COMPOSITION_ARTIFACT, HIST_ARTIFACT, KIND_TAG, OUTPUT_PATH_TAG, OUTPUT_VERSION_TAG

log = get_logger(__name__)

RANK_KIND = "rank"
# Bit masks of the runs that selected a docid are longs: at most 62 runs at once.
MAX_RUNS = 62
_PROGRESS_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


@dataclass
class RankRun:
    """One rank run as the comparison sees it."""

    run_id: str
    label: str
    name: str
    experiment: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    output_path: str
    output_version: int
    hist: dict | None = None
    composition: dict | None = None

    @property
    def boundaries(self) -> dict[str, float]:
        """Each target's selection boundary (the largest selected distance), when recorded.

        >>> RankRun("r", "a", "a", "e", {}, {}, {}, "/t", 0,
        ...         hist={"boundary": {"hellaswag": 0.5, "arc_c": None}}).boundaries
        {'hellaswag': 0.5}
        """
        raw = (self.hist or {}).get("boundary") or {}
        return {str(k): float(v) for k, v in raw.items() if v is not None}


@contextlib.contextmanager
def tracking_at(uri: str | None) -> Iterator[str]:
    """Point MLflow (and :func:`~nag_spark.tracking.runs.start_run`) at ``uri`` for the
    duration, then restore; yields the URI in force."""
    from ..runs import tracking_uri

    old = os.environ.get("MLFLOW_TRACKING_URI")
    old_bar = os.environ.get(_PROGRESS_ENV)
    if uri:
        os.environ["MLFLOW_TRACKING_URI"] = uri
    # Download progress bars for a few small JSON files only clutter the console summary.
    os.environ[_PROGRESS_ENV] = "false"
    try:
        yield tracking_uri()
    finally:
        if old_bar is None:
            os.environ.pop(_PROGRESS_ENV, None)
        else:
            os.environ[_PROGRESS_ENV] = old_bar
        if uri:
            if old is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = old
            tracking_uri()


def _get_runs(client, run_ids: Sequence[str], uri: str) -> list:
    from mlflow.exceptions import MlflowException

    found, missing = [], []
    for rid in dict.fromkeys(r.strip() for r in run_ids if r and r.strip()):
        try:
            found.append(client.get_run(rid))
        except MlflowException as exc:
            # Unknown ids and malformed ids both mean "no such run" to the user.
            missing.append(f"{rid} ({exc.error_code})")
    if missing:
        raise InputError(f"MLflow run(s) not found at {uri}: {', '.join(missing)}")
    return found


def _search_runs(client, experiment: str, last: int | None, uri: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise InputError(f"MLflow experiment {experiment!r} not found at {uri}")
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.\"{KIND_TAG}\" = '{RANK_KIND}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=int(last) if last else MAX_RUNS + 1,
    )
    # Read oldest first: the report then follows the order the runs were made in.
    return list(reversed(runs))


def _check_rank_runs(runs: list) -> None:
    wrong = [f"{r.info.run_id} ({KIND_TAG}={r.data.tags.get(KIND_TAG, '<none>')})"
             for r in runs if r.data.tags.get(KIND_TAG) != RANK_KIND]
    if wrong:
        raise InputError(
            "only rank runs can be compared; these runs are of another kind: " + ", ".join(wrong)
        )
    untagged = [r.info.run_id for r in runs
                if not r.data.tags.get(OUTPUT_PATH_TAG) or not r.data.tags.get(OUTPUT_VERSION_TAG)]
    if untagged:
        raise InputError(
            f"rank run(s) {', '.join(untagged)} record no selection table (tags {OUTPUT_PATH_TAG}, "
            f"{OUTPUT_VERSION_TAG}): did the run fail before writing it?"
        )


def run_labels(names: Sequence[str], run_ids: Sequence[str]) -> list[str]:
    """Report labels: the run name, made unique with the run id's start where names repeat.

    >>> run_labels(["a", "b", "a"], ["111111aa", "222222bb", "333333cc"])
    ['a (111111)', 'b', 'a (333333)']
    """
    return [n if list(names).count(n) == 1 else f"{n} ({rid[:6]})" for n, rid in zip(names, run_ids)]


def _load_json_artifact(client, run_id: str, artifact: str, dst: Path) -> dict | None:
    folder, _, name = artifact.rpartition("/")
    try:
        listed = {a.path for a in client.list_artifacts(run_id, folder)}
    except Exception as exc:  # a store that cannot list is as good as a missing artifact
        log.warning("cannot list artifacts of run %s: %s", run_id, exc)
        return None
    if artifact not in listed:
        log.warning("run %s has no artifact %s; it is left out of that figure", run_id, artifact)
        return None
    local = client.download_artifacts(run_id, artifact, str(dst))
    with open(local, encoding="utf-8") as fh:
        return json.load(fh)


def _fetch_runs(client, run_ids, experiment, last, uri: str) -> list:
    """The MLflow runs named by the selectors, checked to be comparable rank runs."""
    if bool(run_ids) == bool(experiment):
        raise InputError("give either run ids (--runs ID,ID) or an experiment (--experiment NAME)")
    if last is not None and int(last) < 2:
        raise InputError(f"--last must be at least 2 to compare runs, got {last}")
    raw = _get_runs(client, run_ids, uri) if run_ids else _search_runs(client, experiment, last, uri)
    if len(raw) < 2:
        where = f"experiment {experiment!r}" if experiment else "--runs"
        raise InputError(f"a comparison needs at least two rank runs; {where} gives {len(raw)}")
    if len(raw) > MAX_RUNS:
        raise InputError(f"at most {MAX_RUNS} runs can be compared at once, got {len(raw)}: use --last")
    _check_rank_runs(raw)
    return raw


def resolve_runs(run_ids: Sequence[str] | None = None, experiment: str | None = None,
                 last: int | None = None, artifacts_dir: str | os.PathLike | None = None,
                 uri: str | None = None) -> list[RankRun]:
    """The rank runs named by ``run_ids``, or the last ``last`` finished ones of ``experiment``.

    Their ``stats/`` JSON artifacts are downloaded to ``artifacts_dir`` (default: a new
    temporary folder) and loaded.

    Raises
    ------
    InputError
        Neither or both selectors given, a run id not found, an experiment not found, a run
        that is not a rank run or records no selection table, fewer than two runs.
    """
    import mlflow

    uri = uri or mlflow.get_tracking_uri()
    client = mlflow.MlflowClient(uri)
    raw = _fetch_runs(client, run_ids, experiment, last, uri)
    dst = Path(artifacts_dir or tempfile.mkdtemp(prefix="nag-compare-"))
    exp_names: dict[str, str] = {}
    labels = run_labels([r.info.run_name or r.info.run_id[:8] for r in raw], [r.info.run_id for r in raw])
    out = []
    for r, label in zip(raw, labels):
        rid = r.info.run_id
        if r.info.experiment_id not in exp_names:
            exp_names[r.info.experiment_id] = client.get_experiment(r.info.experiment_id).name
        try:
            version = int(r.data.tags[OUTPUT_VERSION_TAG])
        except ValueError as exc:
            raise InputError(f"run {rid}: tag {OUTPUT_VERSION_TAG}="
                             f"{r.data.tags[OUTPUT_VERSION_TAG]!r} is not a version number") from exc
        run_dst = dst / rid
        run_dst.mkdir(parents=True, exist_ok=True)
        out.append(RankRun(
            run_id=rid, label=label, name=r.info.run_name or rid, experiment=exp_names[r.info.experiment_id],
            params=dict(r.data.params), metrics=dict(r.data.metrics), tags=dict(r.data.tags),
            output_path=r.data.tags[OUTPUT_PATH_TAG], output_version=version,
            hist=_load_json_artifact(client, rid, HIST_ARTIFACT, run_dst),
            composition=_load_json_artifact(client, rid, COMPOSITION_ARTIFACT, run_dst),
        ))
    return out
