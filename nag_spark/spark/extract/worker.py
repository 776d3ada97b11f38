"""Worker side of extraction: the ``mapInArrow`` loop from documents to NAG columns.

Each Python worker keeps its models in :data:`WORKER_MODELS` (a :class:`.ModelCache`), so a
model is loaded once per worker, not per batch, partition or job. Inside an Arrow batch the
documents are sorted by token count and cut into token-budget batches
(:mod:`nag_spark.kernels.batching`), so padding stays small.
"""
from __future__ import annotations

import os
import time
from typing import Iterator

import numpy as np

from ...kernels.batching import run_with_oom_backoff, token_budget_batches
from ...logs import get_logger
from ...models.device import resolve_device
from ...tables.features import empty_nags, encode_nags
from .model_cache import ModelCache
from .worker_config import WorkerConfig

log = get_logger(__name__)

#: The models of this Python worker process, kept across tasks and jobs.
WORKER_MODELS = ModelCache()


def set_threads(threads: int, device: str) -> None:
    """Bound torch's CPU threads for this task (one thread when a GPU does the work)."""
    import torch

    # Spark gives each concurrently running task spark.task.cpus cores, so with
    # threads = task cpus, (concurrent workers × threads) never exceeds the executor's cores.
    n = max(1, min(int(threads), os.cpu_count() or 1)) if device == "cpu" else 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _tokenize(tokenizer, docs: list[str], max_length: int, need_full: bool):
    enc = tokenizer(docs, add_special_tokens=False, truncation=not need_full,
                    max_length=None if need_full else max_length)["input_ids"]
    full = [len(t) for t in enc] if need_full else None
    return [t[:max_length] for t in enc], full


def _top_k_rows(tokens: list[list[int]], backbone, extractor, config: WorkerConfig,
                device: str) -> dict[str, np.ndarray]:
    """The NAG matrix ``(rows, L*K)`` per neuron type; rows with no token stay zero."""
    from ...kernels.impact import left_pad

    L, K = extractor.num_layers, extractor.k
    lengths = [len(t) for t in tokens]
    feats = {t: empty_nags(len(tokens), L * K, config.index_types[t]) for t in config.neuron_types}

    def run(rows: list[int]):
        ids, mask = left_pad([tokens[i] for i in rows], backbone.pad_id, device)
        return extractor.top_k(ids, mask)

    for rows in token_budget_batches(lengths, config.batch_tokens):
        for part, result in run_with_oom_backoff(rows, run):
            for t in config.neuron_types:
                feats[t][part] = result[t].reshape(len(part), L * K)
    return feats


def _features_batch(batch, backbone, extractor, config: WorkerConfig, device: str):
    """One Arrow batch of documents in, one Arrow batch of features rows out."""
    import pyarrow as pa

    need_full = not config.has_token_num
    tokens, full = _tokenize(backbone.tokenizer, batch.column("doc").to_pylist(),
                             config.max_length, need_full)
    lengths = [len(t) for t in tokens]
    feats = _top_k_rows(tokens, backbone, extractor, config, device)
    valid = np.asarray(lengths) > 0
    cols = {"docid": batch.column("docid")}
    if config.has_dataset:
        cols["dataset"] = batch.column("dataset")
    if need_full:
        cols["token_num"] = pa.array(full, type=pa.int64())
    else:
        cols["token_num"] = batch.column("token_num").cast(pa.int64())
    cols["n_tokens"] = pa.array(lengths, type=pa.int32())
    for t in config.neuron_types:
        cols[t] = encode_nags(feats[t], valid, config.index_types[t])
    for c in config.carry:
        cols[c] = batch.column(c)
    return pa.RecordBatch.from_pydict(cols), sum(lengths)


def extract_batches(batches: Iterator, config: WorkerConfig, progress=None) -> Iterator:
    """``mapInArrow`` body: Arrow batches of documents in, Arrow batches of NAGs out.

    Rows whose text has no token come out with ``n_tokens = 0`` and null features; the
    driver counts and drops them.

    Parameters
    ----------
    batches : iterator of pyarrow.RecordBatch
        ``docid``, ``doc`` [, ``dataset``] [, ``token_num``] [, carried columns].
    config : WorkerConfig
    progress : accumulator, optional
        Gets ``add(rows)`` after each batch (the driver's progress lines).
    """
    device = resolve_device(config.device)
    set_threads(config.threads, device)
    backbone, extractor = WORKER_MODELS.get(config, device)
    for batch in batches:
        start = time.perf_counter()
        n = batch.num_rows
        if n == 0:
            continue
        out, n_tokens = _features_batch(batch, backbone, extractor, config, device)
        if progress is not None:
            progress.add(n)
        log.debug("worker %d: %d docs, %d tokens in %.2fs on %s", os.getpid(), n,
                  n_tokens, time.perf_counter() - start, device)
        yield out
