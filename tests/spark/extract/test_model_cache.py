"""ModelCache with a fake loader: one load per key, LRU eviction, teardown frees all."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from nag_spark.spark.extract import ModelCache, WorkerConfig


def _config(model="a", dtype="float32", top_k=3, load_log=None) -> WorkerConfig:
    return WorkerConfig(model_name=model, model_kind="hf_dir", model_location=f"/models/{model}",
                        dtype=dtype, device="auto", neuron_types=("fwd_up",), top_k=top_k,
                        max_length=16, batch_tokens=64, index_types={"fwd_up": "short"},
                        load_log=load_log)


class FakeExtractor:
    def __init__(self, backbone, types, k):
        self.backbone, self.types, self.k, self.closed = backbone, tuple(types), k, False

    def close(self):
        self.closed = True


@pytest.fixture
def loads():
    return []


@pytest.fixture
def cache(loads):
    def load(config, device):
        loads.append((config.model_name, config.dtype, device))
        return SimpleNamespace(name=config.model_name, device=device, load_seconds=0.25)
    return ModelCache(capacity=2, load=load, make_extractor=FakeExtractor)


def test_loads_once_per_key_and_reuses(cache, loads):
    bb1, ex1 = cache.get(_config(), "cpu")
    bb2, ex2 = cache.get(_config(), "cpu")
    assert bb1 is bb2 and ex1 is ex2 and loads == [("a", "float32", "cpu")]
    _, ex3 = cache.get(_config(top_k=5), "cpu")  # new hooks on the same model, no new load
    assert ex3 is not ex1 and ex3.k == 5 and ex3.backbone is bb1 and cache.loads == 1
    cache.get(_config(), "cuda:1")  # another device is another copy
    assert loads[-1] == ("a", "float32", "cuda:1") and cache.loads == 2


def test_evicts_least_recently_used_beyond_capacity(cache, loads):
    _, ex_a = cache.get(_config("a"), "cpu")
    cache.get(_config("b"), "cpu")
    cache.get(_config("a"), "cpu")            # a is now the most recent
    cache.get(_config("c"), "cpu")            # evicts b
    assert [k[1] for k in cache.keys()] == ["/models/a", "/models/c"]
    assert len(cache) == 2 and not ex_a.closed
    cache.get(_config("b"), "cpu")            # b comes back with a new load, a goes
    assert [name for name, _, _ in loads] == ["a", "b", "c", "b"]
    assert ex_a.closed                        # evicted hooks were removed


def test_evict_and_teardown(cache):
    _, ex = cache.get(_config("a"), "cpu")
    cache.get(_config("b"), "cpu")
    assert cache.evict(_config("a").model_key("cpu")) and ex.closed
    assert not cache.evict(_config("a").model_key("cpu"))
    cache.teardown()
    assert len(cache) == 0 and cache.keys() == []
    cache.get(_config("a"), "cpu")  # still usable after teardown
    assert len(cache) == 1


def test_cuda_eviction_empties_the_cuda_cache(monkeypatch, cache):
    import torch

    emptied = []
    # Stand-ins: no GPU here; what matters is that a CUDA model's eviction frees the cache.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(1))
    cache.get(_config("a"), "cpu")
    cache.teardown()
    assert not emptied
    cache.get(_config("a"), "cuda:0")
    cache.teardown()
    assert emptied == [1]


def test_capacity_one_and_bad_capacity(loads):
    cache = ModelCache(capacity=1, load=lambda c, d: SimpleNamespace(load_seconds=0.0),
                       make_extractor=FakeExtractor)
    cache.get(_config("a"), "cpu")
    cache.get(_config("b"), "cpu")
    assert len(cache) == 1 and cache.keys()[0][1] == "/models/b"
    with pytest.raises(ValueError, match="capacity"):
        ModelCache(capacity=0)


def test_load_log_gets_one_line_per_load(cache, tmp_path):
    log = tmp_path / "loads.tsv"
    for _ in range(3):
        cache.get(_config(load_log=str(log)), "cpu")
    cache.get(_config("b", load_log=str(log)), "cpu")
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    assert lines == [[str(os.getpid()), "a", "cpu", "0.250"], [str(os.getpid()), "b", "cpu", "0.250"]]
