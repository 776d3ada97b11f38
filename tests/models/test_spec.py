"""Model spec resolution: aliases, GGUF files, model folders and hub ids."""
from __future__ import annotations

from pathlib import Path

import pytest

from nag_spark.errors import ConfigError
from nag_spark.models import resolve_model_spec
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
