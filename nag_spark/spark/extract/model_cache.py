"""The models a Python worker keeps loaded between tasks: :class:`ModelCache`."""
from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...logs import get_logger

log = get_logger(__name__)

# Two loaded models per worker: a job that alternates two models (or dtypes) does not
# reload at every task, while a worker never holds more than two copies of the weights.
DEFAULT_CAPACITY = 2


def load_model(config, device: str):
    """Load the backbone of ``config`` (a :class:`.WorkerConfig`) on ``device``."""
    from ...kernels.fusion import fuse_model
    from ...models import ModelSpec, load_backbone

    spec = ModelSpec(config.model_name, config.model_kind, config.model_location)
    cache_dir = Path(config.cache_dir) if config.cache_dir else None
    backbone = load_backbone(spec, config.dtype, device, cache_dir=cache_dir)
    # Fusion patches the model before any hook goes on it; the mode in effect picks the
    # hook's reduction in hook_model.
    backbone.fusion = fuse_model(backbone.model, getattr(config, "fusion", "off"), device)
    return backbone


def hook_model(backbone, neuron_types, top_k: int):
    """The NAG hooks (:class:`~nag_spark.kernels.impact.NeuronImpact`) on a loaded backbone."""
    from ...kernels.fusion import reducer_for
    from ...kernels.impact import NeuronImpact

    reducer = reducer_for(getattr(backbone, "fusion", "off"))
    return NeuronImpact(backbone.model, list(neuron_types), top_k, reducer=reducer)


@dataclass
class _Entry:
    backbone: object
    device: str
    extractors: dict = field(default_factory=dict)


class ModelCache:
    """Loaded backbones and their NAG hooks, kept across tasks, least recently used first out.

    :meth:`get` returns ``(backbone, extractor)`` for a :class:`.WorkerConfig` on a device,
    loading the model only the first time its key ``(kind, location, dtype, device)`` is
    asked for; the hooks are made once per ``(neuron types, K)`` on that model. With the
    config's ``load_log`` set, each load appends ``pid, model, device, seconds`` there (one
    line, ``O_APPEND``), so tests can count loads per worker.

    Parameters
    ----------
    capacity : int
        Models kept at most; loading one more first evicts the least recently used.
    load : callable, optional
        ``load(config, device) -> Backbone``; default :func:`load_model`. Injectable so the
        cache can be tested without a model.
    make_extractor : callable, optional
        ``make_extractor(backbone, neuron_types, top_k)``; default :func:`hook_model`.

    Notes
    -----
    Worker reuse: the cache lives as long as its Python worker process. Spark keeps
    workers between tasks and jobs only with ``spark.python.worker.reuse`` on (the default);
    with it off, every task starts a fresh worker and loads the model again.

    Several GPUs per executor: a reused worker may run its next task on another GPU than
    its last (Spark hands out GPU addresses per task). The device is part of the key, so
    the model is loaded there, and the models this worker holds on any other GPU are
    evicted first: a worker keeps models on one GPU at a time. (The CUDA context it opened
    on the old GPU stays until the worker exits; one GPU per executor avoids the switch.)

    Memory: each cached model holds its weights on its device (GPU memory for CUDA)
    until it is evicted or :meth:`teardown` is called; eviction drops the references,
    removes the hooks, runs the garbage collector and empties torch's CUDA cache, so the
    memory goes back to the device only once no caller still holds the backbone.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cache = ModelCache(capacity=1, load=lambda cfg, device: f"{cfg.model_name}@{device}",
    ...                    make_extractor=lambda bb, types, k: SimpleNamespace(close=lambda: None))
    >>> cfg = SimpleNamespace(model_name="m", load_log=None, neuron_types=("fwd_up",), top_k=20,
    ...                       model_key=lambda d: ("m", d), extractor_key=lambda: (("fwd_up",), 20))
    >>> cache.get(cfg, "cpu")[0], cache.get(cfg, "cpu")[0], cache.loads
    ('m@cpu', 'm@cpu', 1)
    >>> _ = cache.get(cfg, "cuda:1"); cache.keys()
    [('m', 'cuda:1')]
    >>> cache.teardown(); len(cache)
    0
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, load: Callable | None = None,
                 make_extractor: Callable | None = None):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._load = load or load_model
        self._make_extractor = make_extractor or hook_model
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[tuple]:
        """Model keys held, least recently used first."""
        return list(self._entries)

    def get(self, config, device: str):
        """The cached ``(backbone, extractor)`` for ``config`` on ``device``, loading once."""
        key = config.model_key(device)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                for other in [k for k, e in self._entries.items() if _other_gpu(e.device, device)]:
                    # A reused worker handed another GPU: one device per worker, or the
                    # copies (and the memory they pin) pile up on every GPU it ever ran on.
                    self._evict(other)
                while len(self._entries) >= self.capacity:
                    # Free the old weights before loading new ones: both may not fit.
                    self._evict(next(iter(self._entries)))
                entry = self._entries[key] = _Entry(self._load(config, device), device)
                self.loads += 1
                _append_load_line(config, device, entry.backbone)
            self._entries.move_to_end(key)
            ekey = config.extractor_key()
            extractor = entry.extractors.get(ekey)
            if extractor is None:
                extractor = entry.extractors[ekey] = self._make_extractor(
                    entry.backbone, config.neuron_types, config.top_k)
        return entry.backbone, extractor

    def evict(self, key: tuple) -> bool:
        """Drop the model of ``key`` and free its device memory; False if it was not held."""
        with self._lock:
            return self._evict(key)

    def teardown(self) -> None:
        """Drop every model (end of a worker, tests); the cache stays usable."""
        with self._lock:
            for key in list(self._entries):
                self._evict(key)

    def _evict(self, key: tuple) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        for extractor in entry.extractors.values():
            extractor.close()  # remove the hooks: they hold references into the model
        device = entry.device
        entry.extractors.clear()
        entry.backbone = None
        del entry
        _free_device(device)
        log.info("model cache: evicted %s", key)
        return True


def _other_gpu(held: str, wanted: str) -> bool:
    """Whether a model held on ``held`` must go before loading on ``wanted`` (two GPUs)."""
    return str(held).startswith("cuda") and str(wanted).startswith("cuda") and held != wanted


def _append_load_line(config, device: str, backbone) -> None:
    if config.load_log:
        # One line per load, appended atomically (O_APPEND): tests count them per pid.
        with open(config.load_log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\t{config.model_name}\t{device}\t{backbone.load_seconds:.3f}\n")


def _free_device(device: str) -> None:
    gc.collect()
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
