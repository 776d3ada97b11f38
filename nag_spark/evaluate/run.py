"""Evaluate selections by training a proxy LM on each and scoring held-out target texts.

Spark reads the tables, joins each selection with the pool's text, and runs the overlap
checks; the training itself runs on the driver, one proxy model at a time per (selection,
seed): a proxy trains on ~10^5 tokens, far below what distributing would pay for.

What a result means (one per selection and eval set):

- ``loss_mean`` ± ``loss_std``: per-token loss (nats, mean over the eval set's predicted
  tokens) of the proxy, mean and sample std over ``seeds`` trainings. Each eval text is
  scored on its own (no packing across texts), in windows of ``seq_len`` tokens;
- ``train_tokens``: ``N``, the same for every selection (:mod:`.tokens`);
- ``ngram_loss``: the bigram Kneser-Ney loss on the same targets (:mod:`.ngram`);
- ``dsir_kl``: DSIR's hashed n-gram KL(eval || selection) (:mod:`.dsir_kl`).

A selection table with several targets (a multi-target rank) is evaluated as a whole by
default, the mixture the table is; ``target`` restricts to one target's rows and
``per_target`` evaluates each target's rows as its own selection.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import resolve_target
from ..errors import InputError
from ..logs import get_logger
from ..tables.selection import RUN_ID_KEY, TARGET_KEY
from .options import EvaluateOptions
from .overlap import find_overlaps, refuse_overlaps

log = get_logger(__name__)

SEPARATOR = "<|endoftext|>"


@dataclass
class Unit:
    """One selection to train on: a table (or one target's rows of it)."""

    label: str
    path: str
    version: int
    target: str
    run_id: str
    targets: list[str]
    frame: object = None            # docid, doc, rank-ordered (Spark)
    texts: list[str] = field(default_factory=list)


@dataclass
class EvaluationResult:
    """What :func:`run_evaluation` returns."""

    results: list[dict]
    train_tokens: int
    run_id: str | None = None
    output_json: str | None = None


def _eval_sets(spark, opts: EvaluateOptions):
    from pyspark.sql import functions as F

    from ..spark.inputs import read_documents

    docs = read_documents(spark, opts.eval_docs)
    sets = {}
    for flt in opts.eval_filters:
        spec = resolve_target(flt, opts.targets_file)
        if spec.column not in docs.df.columns:
            raise InputError(f"--eval-filter {flt}: --eval-docs {opts.eval_docs} has no column "
                             f"{spec.column!r}")
        df = docs.df.filter(F.col(spec.column).isin(list(spec.values))).select("docid", "doc")
        if opts.eval_max_docs:
            # A fixed sample: the same texts on every run and machine, spread over the set.
            df = df.orderBy(F.md5("docid"), "docid").limit(opts.eval_max_docs)
        rows = df.collect()
        if not rows:
            raise InputError(f"--eval-filter {flt}: no row of {opts.eval_docs} has {spec.describe()}")
        sets[flt] = (spark.createDataFrame(rows, "docid string, doc string"),
                     [r["doc"] for r in rows])
    return sets


def _units(spark, opts: EvaluateOptions, pool_df) -> list[Unit]:
    from pyspark.sql import functions as F

    from ..delta import read_snapshot

    units = []
    for path in opts.selections:
        snap = read_snapshot(spark, path)
        df, cols = snap.df, snap.df.columns
        if "docid" not in cols:
            raise InputError(f"selection {path} has no column 'docid'")
        if "target" in cols:
            targets = sorted(r[0] for r in df.select("target").distinct().collect() if r[0])
        else:
            targets = [t for t in snap.properties.get(TARGET_KEY, "").split(",") if t]
        run_id = snap.properties.get(RUN_ID_KEY, "")
        if opts.target:
            if opts.target not in targets:
                raise InputError(f"--target {opts.target}: selection {path} has targets "
                                 f"{', '.join(targets) or '(none)'}")
            parts = [(opts.target, F.col("target") == opts.target)]
        elif opts.per_target and len(targets) > 1:
            parts = [(t, F.col("target") == t) for t in targets]
        else:
            parts = [(",".join(targets), None)]
        for name, cond in parts:
            rows = df if cond is None else df.filter(cond)
            order = [c for c in ("rank", "target", "docid") if c in cols]
            joined = rows.join(pool_df.select("docid", "doc"), "docid", "left")
            missing = joined.filter(F.col("doc").isNull())
            n_missing = missing.count()
            if n_missing:
                example = missing.select("docid").orderBy("docid").first()[0]
                raise InputError(f"selection {path}: {n_missing} selected docids are not in "
                                 f"--pool-docs {opts.pool_docs} (e.g. {example!r})")
            label = path if cond is None else f"{path}#{name}"
            units.append(Unit(label=label, path=path, version=snap.version, target=name,
                              run_id=run_id, targets=targets if cond is None else [name],
                              frame=joined.select("docid", "doc", *order).orderBy(*order)))
    return units


def _target_rows(opts: EvaluateOptions, target_docs, target_path: str, unit):
    """The rows of ``--target-docs`` that are ``unit``'s targets (refused when none)."""
    from ..spark.targets import target_condition

    specs = [resolve_target(t, opts.targets_file) for t in unit.targets]
    for spec in specs:
        if spec.column not in target_docs.columns:
            raise InputError(f"--target-docs {target_path} has no column {spec.column!r} "
                             f"(target {spec.name})")
    rows = target_docs.filter(target_condition(specs)).select("docid", "doc")
    if rows.limit(1).count() == 0:
        raise InputError(
            f"cannot check the eval texts against the targets of {unit.label}: no row of "
            f"{target_path} has {'; '.join(s.describe() for s in specs)}; pass "
            "--target-docs with the target examples' text")
    return rows


def check_held_out(spark, opts: EvaluateOptions, units, eval_sets) -> None:
    """Refuse eval texts found among a selection's target rows or in the selection."""
    from ..spark.inputs import read_documents

    target_path = opts.target_docs or opts.eval_docs
    target_docs = read_documents(spark, target_path).df
    overlaps = []
    frames = {label: eval_df for label, (eval_df, _) in eval_sets.items()}
    checked_targets: set = set()
    for unit in units:
        if not unit.targets:
            raise InputError(f"selection {unit.path} names no target (no 'target' column, no "
                             "nag.target property): cannot check that the eval texts are held out")
        key = tuple(sorted(unit.targets))
        if key not in checked_targets:  # selections of the same targets share the check
            checked_targets.add(key)
            rows = _target_rows(opts, target_docs, target_path, unit)
            overlaps += find_overlaps(frames, rows, f"the targets of {unit.label} ({target_path})")
        overlaps += find_overlaps(frames, unit.frame, f"selection {unit.label}")
    refuse_overlaps(overlaps)


def _tokenizer(opts: EvaluateOptions, proxy):
    if proxy is not None:
        return proxy.tokenizer
    from transformers import AutoTokenizer

    from ..models import local_model_dir, resolve_model_spec
    from ..models.loading import quiet_transformers

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_transformers()
    return AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec("smollm2-135m"))))


def _sep_id(tok) -> int:
    sep = tok.convert_tokens_to_ids(SEPARATOR)
    if sep is None or sep == tok.unk_token_id:
        sep = tok.eos_token_id
    return int(sep)


def _mean_std(values) -> tuple[float, float]:
    return float(statistics.fmean(values)), (float(statistics.stdev(values)) if len(values) > 1 else 0.0)


def _streams(units, tok, sep: int, limit: int | None):
    """Each unit's token stream (and where its documents end), texts kept on the unit."""
    from .tokens import token_stream

    streams, doc_ends = {}, {}
    for unit in units:
        texts = (r["doc"] for r in unit.frame.select("doc").toLocalIterator())
        ids, _ = token_stream(tok, _remember(texts, unit.texts), sep, limit=limit)
        streams[unit.label] = ids
        doc_ends[unit.label] = np.flatnonzero(ids == sep) + 1
        log.info("selection %s: %d docs read, %d proxy tokens", unit.label, len(unit.texts), len(ids))
    return streams, doc_ends


def _proxy_factory(opts: EvaluateOptions, proxy, equal, windows, vocab: int):
    """``(make(seed) -> model, id map or None, eval windows in the model's ids)``."""
    if opts.proxy != "tiny":
        return proxy.fresh, None, windows
    from .proxy_tiny import TinyConfig, build_tiny, frequency_ranks

    rank, seen = frequency_ranks(equal.streams.values(), vocab)

    def make(seed):
        return build_tiny(vocab, seen, opts.seq_len, TinyConfig(), seed)

    return make, rank, {k: [rank[w] for w in ws] for k, ws in windows.items()}


def _unit_results(unit, opts, equal, doc_ends, outcomes, eval_sets, windows, vocab) -> list[dict]:
    from .dsir_kl import dsir_kl
    from .ngram import ngram_loss

    stream = equal.streams[unit.label]
    used_docs = min(len(unit.texts), int(np.searchsorted(doc_ends[unit.label], equal.n)) + 1)
    out = []
    for label, (_, texts) in eval_sets.items():
        mean, std = _mean_std([o.loss[label] for o in outcomes])
        out.append({
            "selection": unit.path, "label": unit.label, "target": unit.target,
            "selection_version": unit.version, "selection_run_id": unit.run_id,
            "eval": label, "loss_mean": mean, "loss_std": std,
            "losses": [o.loss[label] for o in outcomes], "train_tokens": equal.n,
            "seeds": opts.seeds, "proxy": opts.proxy, "passes": equal.passes(unit.label),
            "selection_docs_used": used_docs, "eval_docs": len(texts),
            "eval_tokens": outcomes[0].eval_tokens[label],
            "ngram_loss": ngram_loss(stream, windows[label], vocab),
            "dsir_kl": dsir_kl(texts, unit.texts[:used_docs]),
            "train_seconds": statistics.fmean(o.train_seconds for o in outcomes),
        })
    return out


def _params(opts: EvaluateOptions, n: int, schedule, threads: int) -> dict:
    return {"selections": ",".join(opts.selections), "pool_docs": opts.pool_docs,
            "eval_docs": opts.eval_docs, "eval_filters": ",".join(opts.eval_filters),
            "target_docs": opts.target_docs or opts.eval_docs, "target": opts.target or "",
            "per_target": opts.per_target, "proxy": opts.proxy, "train_tokens": n,
            "tokens_option": opts.tokens or "", "short": opts.short, "seeds": opts.seeds,
            "eval_max_docs": opts.eval_max_docs or "", "seq_len": opts.seq_len,
            "batch": opts.batch, "lr": schedule.lr, "steps": schedule.steps(n),
            "torch_threads": threads}


def run_evaluation(spark, opts: EvaluateOptions) -> EvaluationResult:
    """Evaluate every selection of ``opts`` on every eval set; see the module docstring.

    Raises
    ------
    InputError
        Bad options, a selection docid missing from the pool text, an empty eval set, eval
        texts not held out (:mod:`.overlap`), a selection shorter than ``N`` (:mod:`.tokens`).
    """
    from ..spark.inputs import read_documents
    from .tokens import equal_tokens, eval_windows
    from .training import Schedule, set_threads, train_and_score

    opts.check()
    if opts.output_json:
        Path(opts.output_json).parent.mkdir(parents=True, exist_ok=True)
    if opts.track:
        from ..tracking.runs import check_tracking_store

        check_tracking_store()
    eval_sets = _eval_sets(spark, opts)
    units = _units(spark, opts, read_documents(spark, opts.pool_docs).df)
    check_held_out(spark, opts, units, eval_sets)

    threads = set_threads()
    proxy = None
    if opts.proxy == "smollm2-135m":
        from .proxy_smollm2 import SmolLM2Proxy

        proxy = SmolLM2Proxy()
    tok = _tokenizer(opts, proxy)
    sep, vocab = _sep_id(tok), len(tok)
    schedule = Schedule(seq_len=opts.seq_len, batch=opts.batch, lr=opts.peak_lr)
    streams, doc_ends = _streams(units, tok, sep, opts.tokens)
    equal = equal_tokens(streams, opts.seq_len, opts.tokens, opts.short)
    log.info("every selection trains on N=%d tokens (%d sequences of %d, %d steps)", equal.n,
             equal.n // opts.seq_len, opts.seq_len, schedule.steps(equal.n))
    windows = {label: eval_windows(tok(texts, add_special_tokens=False)["input_ids"], sep, opts.seq_len)
               for label, (_, texts) in eval_sets.items()}
    make, rank, model_evals = _proxy_factory(opts, proxy, equal, windows, vocab)
    device = proxy.device if proxy is not None else "cpu"

    results = []
    for unit in units:
        stream = equal.streams[unit.label]
        train = rank[stream] if rank is not None else stream
        outcomes = []
        for seed in range(opts.seeds):
            out = train_and_score(make(seed), train, seed, model_evals, schedule, device)
            outcomes.append(out)
            log.info("%s seed %d: %s (train %.1fs, eval %.1fs, %d steps)", unit.label, seed,
                     ", ".join(f"{k} {v:.4f}" for k, v in out.loss.items()),
                     out.train_seconds, out.eval_seconds, out.steps)
        results += _unit_results(unit, opts, equal, doc_ends, outcomes, eval_sets, windows, vocab)
    payload = {"results": results, "params": _params(opts, equal.n, schedule, threads)}
    run_id = None
    if opts.track:
        run_id = _track(opts, units, results, payload)
        payload["mlflow_run_id"] = run_id
    if opts.output_json:
        Path(opts.output_json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return EvaluationResult(results=results, train_tokens=equal.n, run_id=run_id,
                            output_json=opts.output_json)


def _remember(texts, into: list):
    for t in texts:
        into.append(t)
        yield t


def _track(opts, units, results, payload) -> str:
    from ..tracking.evaluate_run import (evaluate_run, link_selection_runs,
                                         record_evaluate_result, record_evaluate_start)

    index = {u.label: opts.selections.index(u.path) for u in units}
    tables = list(dict.fromkeys((u.path, u.version) for u in units))
    with evaluate_run([u.run_id for u in units], list(opts.eval_filters), opts.experiment,
                      opts.run_name) as run_id:
        record_evaluate_start(payload["params"], tables)
        record_evaluate_result(results, index, payload)
    tagged = link_selection_runs(results, run_id)
    log.info("evaluate run %s; tagged selection runs: %s", run_id, ", ".join(tagged) or "none")
    return run_id
