"""Worker side of extraction: the per-Python-worker model cache and the Arrow batch loop.

Spark reuses Python workers (``spark.python.worker.reuse``, on by default), so a module
level cache keeps one loaded model per worker process across batches, partitions and
jobs. It is keyed by model, dtype and device; with ``load_log`` set, each load appends a
line there, so tests can assert that a worker loaded its model exactly once.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..logs import get_logger
from ..tables.features import encode_nags

log = get_logger(__name__)

_LOCK = threading.Lock()
_BACKBONES: dict[tuple, object] = {}
_EXTRACTORS: dict[tuple, object] = {}


def task_device(setting: str = "auto") -> str:
    """The device for the current task.

    ``auto``: the GPU Spark assigned to this task (``TaskContext.resources()['gpu']``), else
    ``cuda:0`` when CUDA is visible (local mode), else ``cpu``. ``cpu``/``cuda[:N]`` force.
    """
    if setting not in ("auto", ""):
        return setting
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        gpu = ctx.resources().get("gpu") if ctx is not None else None
        if gpu is not None and gpu.addresses:
            return f"cuda:{gpu.addresses[0]}"
    except Exception:  # noqa: BLE001 - no task context (driver, tests): fall through
        pass
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def _set_threads(threads: int, device: str) -> None:
    import torch

    # Spark gives each concurrently running task spark.task.cpus cores, so with
    # threads = task cpus, (concurrent workers × threads) never exceeds the executor's cores.
    n = max(1, min(int(threads), os.cpu_count() or 1)) if device == "cpu" else 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def get_extractor(cfg: dict, device: str):
    """The cached ``(Backbone, NeuronImpact)`` for ``cfg`` on ``device``, loading once."""
    from ..kernels.impact import NeuronImpact
    from ..models import ModelSpec, load_backbone

    key = (cfg["model_kind"], cfg["model_location"], cfg["dtype"], device)
    with _LOCK:
        backbone = _BACKBONES.get(key)
        if backbone is None:
            spec = ModelSpec(cfg["model_name"], cfg["model_kind"], cfg["model_location"])
            cache_dir = cfg.get("cache_dir")
            backbone = load_backbone(spec, cfg["dtype"], device,
                                     cache_dir=Path(cache_dir) if cache_dir else None)
            _BACKBONES[key] = backbone
            if cfg.get("load_log"):
                # One line per load, appended atomically (O_APPEND): tests count them per pid.
                with open(cfg["load_log"], "a", encoding="utf-8") as fh:
                    fh.write(f"{os.getpid()}\t{cfg['model_name']}\t{device}\t{backbone.load_seconds:.3f}\n")
        ekey = key + (tuple(cfg["neuron_types"]), int(cfg["top_k"]))
        extractor = _EXTRACTORS.get(ekey)
        if extractor is None:
            extractor = NeuronImpact(backbone.model, cfg["neuron_types"], cfg["top_k"])
            _EXTRACTORS[ekey] = extractor
    return backbone, extractor


def _tokenize(tokenizer, docs: list[str], max_length: int, need_full: bool):
    enc = tokenizer(docs, add_special_tokens=False, truncation=not need_full,
                    max_length=None if need_full else max_length)["input_ids"]
    full = [len(t) for t in enc] if need_full else None
    return [t[:max_length] for t in enc], full


def extract_batches(batches: Iterator, cfg: dict, progress=None) -> Iterator:
    """``mapInArrow`` body: Arrow batches of documents in, Arrow batches of NAGs out.

    Rows whose text has no token come out with ``n_tokens = 0`` and null features; the
    driver counts and drops them.
    """
    import pyarrow as pa

    from ..kernels.impact import left_pad
    from .batches import run_with_oom_backoff, token_budget_batches

    device = task_device(cfg["device"])
    _set_threads(cfg["threads"], device)
    backbone, extractor = get_extractor(cfg, device)
    L, K = extractor.num_layers, extractor.k
    types = list(cfg["neuron_types"])
    np_types = {t: (np.int16 if cfg["index_types"][t] == "short" else np.int32) for t in types}
    need_full = not cfg["has_token_num"]
    for batch in batches:
        start = time.perf_counter()
        n = batch.num_rows
        if n == 0:
            continue
        docs = batch.column("doc").to_pylist()
        tokens, full = _tokenize(backbone.tokenizer, docs, cfg["max_length"], need_full)
        lengths = [len(t) for t in tokens]
        feats = {t: np.zeros((n, L * K), dtype=np_types[t]) for t in types}

        def run(rows: list[int]):
            ids, mask = left_pad([tokens[i] for i in rows], backbone.pad_id, device)
            return extractor.top_k(ids, mask)

        for rows in token_budget_batches(lengths, cfg["batch_tokens"]):
            for part, result in run_with_oom_backoff(rows, run):
                for t in types:
                    feats[t][part] = result[t].reshape(len(part), L * K)
        valid = np.asarray(lengths) > 0
        cols = {"docid": batch.column("docid")}
        if cfg["has_dataset"]:
            cols["dataset"] = batch.column("dataset")
        if need_full:
            cols["token_num"] = pa.array(full, type=pa.int64())
        else:
            cols["token_num"] = batch.column("token_num").cast(pa.int64())
        cols["n_tokens"] = pa.array(lengths, type=pa.int32())
        for t in types:
            cols[t] = encode_nags(feats[t], valid, cfg["index_types"][t])
        for c in cfg["carry"]:
            cols[c] = batch.column(c)
        if progress is not None:
            progress.add(n)
        log.debug("worker %d: %d docs, %d tokens in %.2fs on %s", os.getpid(), n,
                  sum(lengths), time.perf_counter() - start, device)
        yield pa.RecordBatch.from_pydict(cols)
