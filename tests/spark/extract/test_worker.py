"""One work unit in a task, with a fake model (no Spark, no weights): the data file and
the done marker it leaves for the driver.

The fake tokenizer makes one token per word; the fake extractor's NAG of a document is a
function of its valid-token count, so each output row can be checked against its input.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
import torch

import pyarrow.parquet as pq

from nag_spark.spark.extract import ModelCache, WorkerConfig, extract_unit
from nag_spark.spark.extract import worker as worker_module
from nag_spark.spark.extract.job_files import JobFiles
from nag_spark.spark.extract.units import plan_units

L, K = 2, 3


def fake_tokenizer(docs, add_special_tokens):
    assert add_special_tokens is False
    return {"input_ids": [[len(w) for w in d.split()] for d in docs]}


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


def _unit(tmp_path, docs, **extra):
    cols = {"docid": [f"d{i}" for i in range(len(docs))], "doc": docs,
            "dataset": ["web"] * len(docs), "title": [f"t{i}" for i in range(len(docs))]}
    cols.update(extra)
    pq.write_table(pa.table(cols), tmp_path / "in.parquet")
    (unit,), _ = plan_units(str(tmp_path / "in.parquet"), "parquet", unit_rows=100,
                            max_unit_rows=100, slots=1)
    job = JobFiles(str(tmp_path / "table"), "jtest").create()
    return unit, job


def _rows(job, marker):
    return pq.read_table(f"{job.table_dir}/{marker['file']}")


def test_features_rows_match_their_documents(fake_models, tmp_path):
    docs = ["one two three four five six", "a b", "", "x y z", "   "]
    unit, job = _unit(tmp_path, docs)
    marker = extract_unit(unit, 0, _config(), job)
    out = _rows(job, marker)
    rows = out.to_pylist()
    assert [r["docid"] for r in rows] == ["d0", "d1", "d3"]  # empty texts have no NAG
    assert marker["empty"] == 2 and marker["docs"] == 3 and marker["rows_in"] == 5
    assert out.schema.names == ["docid", "dataset", "token_num", "n_tokens", "fwd_up", "title"]
    assert [r["token_num"] for r in rows] == [6, 2, 3]  # counted in full: no token_num input
    assert [r["n_tokens"] for r in rows] == [4, 2, 3]   # kept: max_length 4
    # Each NAG is that of its own row (the fake's values are 10 x valid tokens + position).
    assert [r["fwd_up"] for r in rows] == [[10 * n + v for v in range(L * K)] for n in (4, 2, 3)]
    assert [r["title"] for r in rows] == ["t0", "t1", "t3"]
    assert out.schema.field("fwd_up").type == pa.list_(pa.int16())
    # Token budget 8, longest first; the 4-token document fills max_length, so it runs alone
    # (a dense batch, no padding), then the 3- and 2-token ones (2 x 3 padded).
    assert fake_models.batch_sizes == [1, 2]
    # The marker the driver commits from: complete unit, its transaction version.
    assert marker["version"] == 2 * 5 + 1 and marker["app_id"] == unit.app_id
    assert job.done_markers()[0][1]["file"] == marker["file"]


def test_token_num_of_the_input_is_kept(fake_models, tmp_path):
    unit, job = _unit(tmp_path, ["a b c"], token_num=pa.array([99], pa.int32()))
    config = _config(has_token_num=True, has_dataset=False, carry=(), index_types={"fwd_up": "int"})
    out = _rows(job, extract_unit(unit, 0, config, job))
    assert out.schema.names == ["docid", "token_num", "n_tokens", "fwd_up"]
    assert out.column("token_num").type == pa.int64() and out.column("token_num").to_pylist() == [99]
    assert out.schema.field("fwd_up").type == pa.list_(pa.int32())


def test_resumed_unit_skips_committed_rows_and_present_docids(fake_models, tmp_path):
    unit, job = _unit(tmp_path, [f"w{i} x" for i in range(6)])
    marker = extract_unit(unit, 2, _config(), job, skip_docids=frozenset({"d4"}))
    assert _rows(job, marker).column("docid").to_pylist() == ["d2", "d3", "d5"]
    assert marker["present"] == 1 and marker["version"] == 2 * 6 + 1


def test_a_unit_with_no_document_writes_no_file(fake_models, tmp_path):
    unit, job = _unit(tmp_path, ["", " "])
    marker = extract_unit(unit, 0, _config(), job)
    assert marker["file"] is None and marker["docs"] == 0 and marker["empty"] == 2


def test_heartbeats_follow_the_model_batches_inside_a_segment(fake_models, tmp_path, monkeypatch):
    # One segment (100 rows < segment_rows) of 50 batches: live counts must not wait for
    # its end, and must only grow.
    monkeypatch.setattr(worker_module, "HEARTBEAT_SECONDS", 0.0)
    beats = []
    monkeypatch.setattr(JobFiles, "heartbeat",
                        lambda self, tally, extra_rows=0: beats.append(tally.rows_in + extra_rows))
    unit, job = _unit(tmp_path, [f"w{i} x y z" for i in range(100)])
    marker = extract_unit(unit, 0, _config(), job)
    assert worker_module.segment_rows(_config()) > 100 and len(fake_models.batch_sizes) == 50
    assert beats[0] == 2 and beats == sorted(beats) and len(beats) >= 50  # per batch of 2
    assert beats[-1] == marker["rows_in"] == 100


def test_overlapped_and_sequential_segments_give_the_same_rows(fake_models, tmp_path, monkeypatch):
    # Segments of 2 rows: the side thread (a 2-core CPU task, as on GPUs) prepares the next
    # one while the model runs this one; a 1-core CPU task runs them in turn.
    monkeypatch.setattr(worker_module, "SEGMENT_DOCS", 2)
    docs = [" ".join(["w"] * (1 + i % 5)) for i in range(7)] + [""]
    unit, job = _unit(tmp_path, docs)
    assert worker_module.overlaps(_config(threads=2), "cpu") and worker_module.overlaps(_config(), "cuda:0")
    assert not worker_module.overlaps(_config(), "cpu")
    tables = [_rows(job, extract_unit(unit, 0, _config(threads=n), job)) for n in (1, 2)]
    assert tables[0].to_pylist() == tables[1].to_pylist() and tables[0].num_rows == 7
