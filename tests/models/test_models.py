"""Model spec resolution, the GGUF conversion cache, dtype choice and loading."""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from nag_spark.errors import ConfigError
from nag_spark.models import (cache, local_model_dir, model_cache_dir, model_digest,
                              resolve_dtype, resolve_model_spec)
from nag_spark.models.spec import ModelSpec


def test_resolve_alias_file_folder_hub(tmp_path):
    spec = resolve_model_spec(None)
    assert spec.name == "smollm2-135m" and spec.kind == "gguf"
    assert spec.location.endswith("SmolLM2-135M-Instruct.Q4_1.gguf") and Path(spec.location).is_file()
    assert resolve_model_spec(spec.location).kind == "gguf"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert resolve_model_spec(str(tmp_path / "m")) == ModelSpec(str(tmp_path / "m"), "hf_dir",
                                                                str(tmp_path / "m"))
    assert resolve_model_spec("Qwen/Qwen3-0.6B") == ModelSpec("Qwen/Qwen3-0.6B", "hub", "Qwen/Qwen3-0.6B")


def test_unknown_models_are_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'no-such-model'"):
        resolve_model_spec("no-such-model")
    with pytest.raises(ConfigError, match="model file .*missing.gguf.* not found"):
        resolve_model_spec(str(tmp_path / "missing.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="has no config.json"):
        resolve_model_spec(str(tmp_path / "empty"))


def test_hub_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ConfigError, match="'nag-spark-test/not-a-model' is not in the local Hugging Face cache"):
        local_model_dir(resolve_model_spec("nag-spark-test/not-a-model"), tmp_path)


def test_dtype_auto():
    assert resolve_dtype("auto", "cuda:0") == "bfloat16"
    assert resolve_dtype("auto", "cpu") in ("float32", "bfloat16")
    assert resolve_dtype("float32", "cuda") == "float32"
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8", "cpu")


def test_cache_dir_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("NAG_MODEL_CACHE_DIR", str(tmp_path / "c1"))
    assert model_cache_dir() == tmp_path / "c1" and (tmp_path / "c1").is_dir()
    monkeypatch.delenv("NAG_MODEL_CACHE_DIR")
    assert model_cache_dir({"spark.nag.model.cache_dir": str(tmp_path / "c2")}) == tmp_path / "c2"


def _fake_convert(gguf, dest):
    # Slow enough that two workers overlap; counts conversions in a shared file.
    time.sleep(1.0)
    dest.mkdir(parents=True)
    (dest / "config.json").write_text("{}")
    with open(gguf.parent / "conversions.log", "a") as fh:
        fh.write(f"{os.getpid()}\n")


def _worker(gguf, root, out):
    cache._convert_gguf = _fake_convert
    folder = local_model_dir(ModelSpec("x", "gguf", str(gguf)), Path(root))
    out.put(str(folder))


def test_conversion_runs_once_when_two_workers_start_together(tmp_path):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF fake weights")
    root = tmp_path / "cache"
    root.mkdir()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(gguf, root, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    folders = {out.get(timeout=5) for _ in procs}
    assert len(folders) == 1
    folder = Path(folders.pop())
    assert len((tmp_path / "conversions.log").read_text().split()) == 1
    meta = json.loads((folder / cache._MARKER).read_text())
    assert meta["digest"].startswith("sha256:")
    assert model_digest(ModelSpec("x", "gguf", str(gguf)), root) == meta["digest"]
    assert not list(root.glob("*.tmp-*"))  # no half-written folder left behind


def test_smollm2_loads_from_cache_as_base_model():
    from nag_spark.models import describe_model, load_backbone

    spec = resolve_model_spec("smollm2-135m")
    info = describe_model(spec)
    assert info["architecture"] == "LlamaForCausalLM" and info["num_layers"] == 30
    assert info["n_neurons"]["fwd_up"] == 1536 and info["n_neurons"]["att_k"] == 576
    folder = local_model_dir(spec)
    marker = (folder / cache._MARKER).stat().st_mtime_ns
    bb = load_backbone(spec, "float32", "cpu")
    assert type(bb.model).__name__ == "LlamaModel"  # no LM head
    assert not hasattr(bb.model, "lm_head")
    assert bb.tokenizer.padding_side == "left" and bb.pad_id == bb.tokenizer.eos_token_id
    assert (folder / cache._MARKER).stat().st_mtime_ns == marker  # not converted again
    # Well under a second on an idle machine; generous here because tests share 2 cores.
    assert bb.load_seconds < 10
