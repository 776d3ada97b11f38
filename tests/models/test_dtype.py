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
