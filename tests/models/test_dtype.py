"""Choosing the compute dtype."""
from __future__ import annotations

import pytest

from nag_spark.errors import ConfigError
from nag_spark.models import resolve_dtype


def test_dtype_auto():
    assert resolve_dtype("auto", "cuda:0") == "bfloat16"
    assert resolve_dtype("auto", "cpu") in ("float32", "bfloat16")
    assert resolve_dtype("float32", "cuda") == "float32"
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8", "cpu")


def test_bf16_on_a_gpu_without_native_bf16_is_reported(monkeypatch):
    import torch

    from nag_spark.models import dtype as dtype_module

    warnings = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (7, 5))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "Tesla T4")
    monkeypatch.setattr(dtype_module.log, "warning", lambda msg, *a: warnings.append(msg % a))
    dtype_module.verify_on_worker("bfloat16", "cuda:0", "cuda")
    assert warnings and "Tesla T4 (compute capability 7.5) has no native bf16" in warnings[0]
    warnings.clear()
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (9, 0))
    dtype_module.verify_on_worker("bfloat16", "cuda:0", "cuda")
    dtype_module.verify_on_worker("float32", "cpu", "cpu")
    assert not warnings
