"""WorkerConfig: plain, frozen and picklable (it travels to every Spark task)."""
from __future__ import annotations

import dataclasses
import pickle

import cloudpickle
import pyarrow as pa
import pytest

from nag_spark.spark.extract import WorkerConfig


def _config(**changes) -> WorkerConfig:
    base = WorkerConfig(
        model_name="smollm2-135m", model_kind="gguf", model_location="/m/SmolLM2.gguf",
        dtype="float32", device="auto", neuron_types=("fwd_up", "att_k"), top_k=20,
        max_length=120, batch_tokens=4096, index_types={"fwd_up": "short", "att_k": "short"},
        has_token_num=True, has_dataset=True, carry=("title",), threads=2,
        cache_dir="/tmp/models", load_log="/tmp/loads.tsv", fmt="final",
        json_schema=pa.schema([("doc", pa.string())]),
        output_schema=pa.schema([("docid", pa.string()), ("fwd_up", pa.list_(pa.int16()))]))
    return dataclasses.replace(base, **changes)


def test_pickle_round_trip_keeps_every_field():
    cfg = _config()
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        back = loads(dumps(cfg))
        assert back == cfg and dataclasses.asdict(back) == dataclasses.asdict(cfg)
    assert len(dataclasses.fields(WorkerConfig)) == 21  # + device_kind, fusion (GPU path)
    assert cfg.columns.fmt == "final" and cfg.columns.carry == ("title",)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _config().top_k = 5


def test_keys_separate_models_devices_and_hooks():
    cfg = _config()
    assert cfg.model_key("cuda:0") != cfg.model_key("cuda:1")
    assert cfg.model_key("cpu") != _config(dtype="bfloat16").model_key("cpu")
    assert cfg.model_key("cpu") == _config(top_k=5).model_key("cpu")  # same weights
    assert cfg.extractor_key() != _config(top_k=5).extractor_key()
    assert cfg.extractor_key() == (("fwd_up", "att_k"), 20)
