"""Resolving the rank runs of a comparison from MLflow (runs logged here; no table is read)."""
from __future__ import annotations

import os

import mlflow
import pytest

from nag_spark.errors import InputError
from nag_spark.tracking.compare.rank_runs import resolve_runs, run_labels, tracking_at
from nag_spark.tracking.runs import start_run


def _rank_run(experiment: str, name: str, *, version: str = "0", artifacts: bool = True,
              tags: dict | None = None) -> str:
    with start_run("rank", experiment=experiment, run_name=name) as run:
        mlflow.log_param("fraction", "0.2")
        mlflow.set_tags(tags if tags is not None else
                        {"nag.output_path": f"/sel/{name}", "nag.output_version": version})
        if artifacts:
            mlflow.log_dict({"edges": [0, 1], "counts": {}, "boundary": {"t": 0.5}},
                            "stats/distance_hist.json")
            mlflow.log_dict({"pool": {"web": 10}, "selected": {}}, "stats/composition.json")
    return run.info.run_id


def test_runs_by_id_with_their_artifacts(mlflow_uri, tmp_path):
    a = _rank_run("rr-ids", "same")
    b = _rank_run("rr-ids", "same", version="3", artifacts=False)
    runs = resolve_runs([a, f" {b} ", a], artifacts_dir=tmp_path, uri=mlflow_uri)
    assert [r.run_id for r in runs] == [a, b]  # stripped, de-duplicated, in the order given
    assert [r.label for r in runs] == [f"same ({a[:6]})", f"same ({b[:6]})"]
    assert runs[0].experiment == "rr-ids" and runs[1].output_version == 3
    assert runs[0].boundaries == {"t": 0.5} and runs[0].composition["pool"] == {"web": 10}
    assert runs[1].hist is None and runs[1].composition is None  # left out of those figures
    assert runs[0].params == {"fraction": "0.2"}


def test_runs_of_an_experiment_oldest_first(mlflow_uri):
    ids = [_rank_run("rr-exp", n) for n in ("one", "two", "three")]
    with start_run("compare", experiment="rr-exp"):
        pass  # not a rank run: never picked
    assert [r.run_id for r in resolve_runs(experiment="rr-exp", uri=mlflow_uri)] == ids
    assert [r.label for r in resolve_runs(experiment="rr-exp", last=2, uri=mlflow_uri)] == ["two", "three"]


def test_refusals(mlflow_uri):
    good = _rank_run("rr-bad", "good")
    with pytest.raises(InputError, match="--last must be at least 2"):
        resolve_runs(experiment="rr-bad", last=1, uri=mlflow_uri)
    with pytest.raises(InputError, match="either run ids"):
        resolve_runs([good], experiment="rr-bad", uri=mlflow_uri)
    untagged = _rank_run("rr-bad", "untagged", tags={})
    with pytest.raises(InputError, match=f"rank run\\(s\\) {untagged} record no selection table"):
        resolve_runs([good, untagged], uri=mlflow_uri)
    bad_version = _rank_run("rr-bad", "v", version="latest")
    with pytest.raises(InputError, match="nag.output_version='latest' is not a version number"):
        resolve_runs([good, bad_version], uri=mlflow_uri)


def test_labels():
    assert run_labels(["x", "y"], ["1", "2"]) == ["x", "y"]
    assert run_labels(["x", "x"], ["abcdef99", "123456aa"]) == ["x (abcdef)", "x (123456)"]


def test_tracking_at_restores_the_environment(mlflow_uri, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    with tracking_at(other) as uri:
        assert uri == other == os.environ["MLFLOW_TRACKING_URI"]
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_uri == mlflow.get_tracking_uri()
    assert os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR") == bar
