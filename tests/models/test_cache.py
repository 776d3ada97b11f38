"""The per-node model cache: its folder, hub ids offline, GGUF converted once."""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from nag_spark.errors import ConfigError
from nag_spark.models import cache, local_model_dir, model_cache_dir, model_digest, resolve_model_spec
from nag_spark.models.spec import ModelSpec


def test_hub_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ConfigError, match="'nag-spark-test/not-a-model' is not in the local Hugging Face cache"):
        local_model_dir(resolve_model_spec("nag-spark-test/not-a-model"), tmp_path)


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
