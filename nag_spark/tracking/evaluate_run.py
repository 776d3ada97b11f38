"""The MLflow run of an evaluation (``nag.kind=evaluate``), linked to the selections' runs.

The evaluate run records its options as parameters, each selection table as an input
dataset (at the version read), one ``loss_mean`` / ``loss_std`` / ``ngram_loss`` /
``dsir_kl`` metric per result (suffixed ``.<i>.<eval>``: selection index and eval label)
and the whole result list as ``stats/evaluation.json``. Tag :data:`SELECTION_RUNS_TAG`
lists the selections' own runs (their ``nag.mlflow_run_id`` property). Each of those runs,
when it is in this tracking store, gets tags back: :data:`EVALUATED_BY_TAG` (this run) and
``nag.evaluation.<eval>`` = ``"<loss_mean>±<loss_std> nats (<proxy>, <N> tokens)"``, which
``jobs/compare.py`` shows next to overlap and composition.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Mapping, Sequence

from ..logs import get_logger
from .runs import log_delta_table, log_json, log_metrics, log_params, start_run
from .schema import (EVAL_SETS_TAG, EVALUATED_BY_TAG, EVALUATION_TAG_PREFIX, SELECTION_RUNS_TAG,
                     target_key_parts)

log = get_logger(__name__)

KIND = "evaluate"
EVALUATION_ARTIFACT = "stats/evaluation.json"


@contextlib.contextmanager
def evaluate_run(selection_run_ids: Sequence[str], eval_labels: Sequence[str],
                 experiment: str | None = None, run_name: str | None = None) -> Iterator[str]:
    """An MLflow run of kind ``evaluate``; yields its run id."""
    tags = {SELECTION_RUNS_TAG: ",".join(r for r in selection_run_ids if r),
            EVAL_SETS_TAG: ",".join(eval_labels)}
    with start_run(KIND, experiment=experiment, run_name=run_name or "evaluate", tags=tags) as run:
        yield run.info.run_id


def record_evaluate_start(params: Mapping[str, object], selections: Sequence[tuple[str, int]]) -> None:
    """Log the options and every selection table (path, version) as an input."""
    log_params(params)
    for i, (path, version) in enumerate(selections):
        log_delta_table(path, version, "input" if i == 0 else f"input_{i}", name=f"selection_{i}")


def result_metrics(results: Sequence[Mapping], selection_index: Mapping[str, int]) -> dict:
    """``loss_mean.<i>.<eval>`` and friends (``i``: the selection's index in ``--selections``)."""
    parts = dict(zip(sorted({r["eval"] for r in results}),
                     target_key_parts(sorted({r["eval"] for r in results}))))
    metrics = {}
    for r in results:
        sfx = f".{selection_index[r['label']]}.{parts[r['eval']]}"
        for key in ("loss_mean", "loss_std", "ngram_loss", "dsir_kl"):
            if r.get(key) is not None:
                metrics[key + sfx] = r[key]
    return metrics


def record_evaluate_result(results: Sequence[Mapping], selection_index: Mapping[str, int],
                           payload: Mapping) -> None:
    """Log the metrics and the JSON document of the results."""
    log_metrics(result_metrics(results, selection_index))
    log_json(dict(payload), EVALUATION_ARTIFACT)


def link_selection_runs(results: Sequence[Mapping], evaluate_run_id: str) -> list[str]:
    """Tag each selection's own run (when this store has it) with this evaluation.

    Returns the run ids tagged; a run not found here (another store, deleted) is skipped
    with a log line: the link from the evaluate run to it is there anyway.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    parts = dict(zip(sorted({r["eval"] for r in results}),
                     target_key_parts(sorted({r["eval"] for r in results}))))
    tagged = []
    for r in results:
        rid = r.get("selection_run_id")
        if not rid:
            continue
        try:
            client.set_tag(rid, EVALUATED_BY_TAG, evaluate_run_id)
            client.set_tag(rid, EVALUATION_TAG_PREFIX + parts[r["eval"]],
                           f"{r['loss_mean']:.4f}±{r['loss_std']:.4f} nats ({r['proxy']}, "
                           f"{r['train_tokens']} tokens, run {evaluate_run_id[:8]})")
            tagged.append(rid)
        except MlflowException as exc:
            log.info("selection run %s not tagged (not in this store? %s)", rid, exc.error_code)
    return sorted(set(tagged))
