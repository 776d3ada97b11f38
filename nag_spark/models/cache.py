"""The per-node model cache: GGUF converted once to safetensors, weight digests.

Loading a GGUF file dequantises every tensor and converts the tokenizer (about 30 s for
SmolLM2-135M); a safetensors folder loads in well under a second. So the first worker on a
node converts into ``<cache>/<name>-<key>/`` and every later load, in any process, reads
that folder. Two workers starting at once are safe: conversion holds an exclusive
``flock`` on ``<key>.lock`` and writes into a temporary folder that is renamed into place
only when complete, so a reader never sees half a model, even after a crash mid-write.

Cache folder: ``NAG_MODEL_CACHE_DIR`` (env), else ``spark.nag.model.cache_dir`` (profile or
``--conf``), else ``~/.cache/nag-spark/models``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator, Mapping

from ..config import nag_setting
from ..errors import ConfigError
from ..logs import get_logger
from .spec import ModelSpec

log = get_logger(__name__)

DEFAULT_CACHE = Path.home() / ".cache" / "nag-spark" / "models"
_MARKER = "nag_model.json"  # written last: its presence means the folder is complete


def model_cache_dir(conf: Mapping[str, str] | None = None) -> Path:
    """The cache folder in force (created if missing)."""
    path = Path(nag_setting(conf, "model.cache_dir") or DEFAULT_CACHE).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"model cache folder {path} cannot be created: {exc}") from exc
    return path


def _file_key(path: Path) -> str:
    # Path, size and mtime identify a file version without reading it (hashing a multi-GB
    # file at every worker start would defeat the cache).
    st = path.stat()
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(raw.encode()).hexdigest()[:12]


def _sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return "sha256:" + h.hexdigest()


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if absent) for the block:
    processes that share the folder take turns."""
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantise ``gguf`` into a safetensors + tokenizer folder at ``dest``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # fp32 holds the dequantised Q4/Q8 values exactly; the runtime dtype is chosen at load.
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                 dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # save_pretrained refuses models loaded from GGUF (it treats them as quantized), but
    # after loading they are plain fp32 modules: write the tensors and config directly.
    from safetensors.torch import save_file

    dest.mkdir(parents=True, exist_ok=True)
    config = model.config
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if getattr(config, "tie_word_embeddings", False):
        # Tied: lm_head shares the embedding tensor; keep the embedding (the base model needs it).
        state.pop("lm_head.weight", None)
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    config.architectures = [type(model).__name__]
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attr):
            delattr(config, attr)
    config.save_pretrained(dest)
    tok.save_pretrained(dest)


def _hub_snapshot(hub_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any miss means "not cached locally"
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise ConfigError(
            f"model {hub_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is "
            "set; pass a local model folder or FILE.gguf instead"
        )
    try:
        return Path(snapshot_download(hub_id, allow_patterns=["*.json", "*.safetensors",
                                                              "*.model", "*.txt"]))
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(
            f"model {hub_id!r} could not be downloaded from the Hugging Face hub ({exc}); "
            "pass a local model folder or FILE.gguf instead"
        ) from exc


def local_model_dir(spec: ModelSpec, cache_dir: Path | None = None) -> Path:
    """A local folder of safetensors weights, config and tokenizer for ``spec``.

    GGUF files are converted once per node (see the module notes); folders are used as
    they are; hub ids must be in the local Hugging Face cache (or downloadable).
    """
    if spec.kind == "hf_dir":
        return Path(spec.location)
    if spec.kind == "hub":
        return _hub_snapshot(spec.location)
    if spec.kind != "gguf":
        raise ConfigError(f"unknown model kind {spec.kind!r}")
    gguf = Path(spec.location)
    root = cache_dir or model_cache_dir()
    final = root / f"{gguf.stem}-{_file_key(gguf)}"
    if (final / _MARKER).is_file():
        return final
    with exclusive_lock(root / f"{final.name}.lock"):
        if (final / _MARKER).is_file():  # another worker finished while we waited
            return final
        log.info("converting %s to safetensors in %s (once per node)", gguf, final)
        tmp = root / f"{final.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        _convert_gguf(gguf, tmp)
        meta = {"source": str(gguf), "digest": _sha256_files([gguf])}
        (tmp / _MARKER).write_text(json.dumps(meta, indent=1))
        shutil.rmtree(final, ignore_errors=True)  # a leftover without marker
        os.rename(tmp, final)
    return final


def model_digest(spec: ModelSpec, cache_dir: Path | None = None) -> str:
    """``sha256:...`` of the model's weight files (the GGUF file for GGUF models).

    Computed once per file version and remembered in the cache folder, since hashing
    gigabytes of weights takes seconds to minutes.
    """
    root = cache_dir or model_cache_dir()
    if spec.kind == "gguf":
        folder = local_model_dir(spec, root)
        return json.loads((folder / _MARKER).read_text())["digest"]
    folder = local_model_dir(spec, root)
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not weights:
        raise ConfigError(f"model folder {folder} holds no *.safetensors or *.bin weights")
    key = hashlib.sha1("|".join(
        f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights).encode()
    ).hexdigest()[:16]
    memo = root / "digests" / f"{key}.txt"
    if memo.is_file():
        return memo.read_text().strip()
    digest = _sha256_files(weights)
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(digest)
    os.replace(tmp, memo)
    return digest
