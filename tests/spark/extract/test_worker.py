"""The mapInArrow body on Arrow batches, with a fake model (no Spark, no weights).

The fake tokenizer makes one token per word; the fake extractor's NAG of a document is a
function of its valid-token count, so each output row can be checked against its input.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
import torch

from nag_spark.spark.extract import ModelCache, WorkerConfig, extract_batches
from nag_spark.spark.extract import worker as worker_module

L, K = 2, 3


def fake_tokenizer(docs, add_special_tokens, truncation, max_length):
    assert add_special_tokens is False
    ids = [[len(w) for w in d.split()] for d in docs]
    return {"input_ids": [t[:max_length] for t in ids] if truncation else ids}


class FakeExtractor:
    num_layers, k = L, K

    def __init__(self):
        self.batch_sizes = []

    def top_k(self, ids, mask):
        self.batch_sizes.append(int(ids.shape[0]))
        n = mask.sum(dim=1).numpy()
        out = np.stack([np.arange(L * K) + 10 * c for c in n]).reshape(len(n), L, K)
        return {"fwd_up": out}

    def close(self):
        pass


@pytest.fixture
def fake_models(monkeypatch):
    extractor = FakeExtractor()
    backbone = SimpleNamespace(tokenizer=fake_tokenizer, pad_id=0, load_seconds=0.0)
    cache = ModelCache(load=lambda config, device: backbone,
                       make_extractor=lambda bb, types, k: extractor)
    monkeypatch.setattr(worker_module, "WORKER_MODELS", cache)
    threads = torch.get_num_threads()
    yield extractor
    torch.set_num_threads(threads)  # the worker sets torch's threads for its task


def _config(**kw) -> WorkerConfig:
    base = dict(model_name="fake", model_kind="hf_dir", model_location="/fake", dtype="float32",
                device="cpu", neuron_types=("fwd_up",), top_k=K, max_length=4, batch_tokens=8,
                index_types={"fwd_up": "short"}, has_token_num=False, has_dataset=True,
                carry=("title",), threads=1)
    base.update(kw)
    return WorkerConfig(**base)


def _batch(docs, **extra):
    cols = {"docid": [f"d{i}" for i in range(len(docs))], "doc": docs,
            "dataset": ["web"] * len(docs), "title": [f"t{i}" for i in range(len(docs))]}
    cols.update(extra)
    return pa.RecordBatch.from_pydict(cols)


def test_features_rows_match_their_documents(fake_models):
    docs = ["one two three four five six", "a b", "", "x y z"]
    progress = SimpleNamespace(total=0, add=lambda n: setattr(progress, "total", progress.total + n))
    out = list(extract_batches(iter([_batch(docs), _batch([])]), _config(), progress))
    assert len(out) == 1 and progress.total == 4  # the empty batch yields nothing
    rows = out[0].to_pylist()
    assert [r["docid"] for r in rows] == ["d0", "d1", "d2", "d3"]
    assert out[0].schema.names == ["docid", "dataset", "token_num", "n_tokens", "fwd_up", "title"]
    assert [r["token_num"] for r in rows] == [6, 2, 0, 3]  # counted in full: no token_num input
    assert [r["n_tokens"] for r in rows] == [4, 2, 0, 3]   # kept: max_length 4
    # Each NAG is that of its own row (the fake's values are 10 x valid tokens + position).
    assert [r["fwd_up"] for r in rows] == [[10 * n + v for v in range(L * K)] if n else None
                                           for n in (4, 2, 0, 3)]
    assert [r["title"] for r in rows] == ["t0", "t1", "t2", "t3"]
    assert out[0].schema.field("fwd_up").type == pa.list_(pa.int16())
    # Token budget 8, longest first: the 4- and 3-token documents (2 x 4 padded), then the 2-token one.
    assert fake_models.batch_sizes == [2, 1]


def test_token_num_of_the_input_is_kept(fake_models):
    batch = _batch(["a b c"], token_num=pa.array([99], pa.int32()))
    out = next(extract_batches(iter([batch]), _config(has_token_num=True, has_dataset=False,
                                                      carry=(), index_types={"fwd_up": "int"})))
    assert out.schema.names == ["docid", "token_num", "n_tokens", "fwd_up"]
    assert out.column("token_num").type == pa.int64() and out.column("token_num").to_pylist() == [99]
    assert out.schema.field("fwd_up").type == pa.list_(pa.int32())
