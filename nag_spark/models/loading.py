"""Loading the backbone (base model without LM head) and its tokenizer for extraction."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..logs import get_logger
from .cache import local_model_dir, model_digest
from .dtype import torch_dtype
from .spec import ModelSpec

log = get_logger(__name__)


@dataclass
class Backbone:
    """A loaded base model and tokenizer ready for :mod:`nag_spark.kernels.impact`.

    Attributes
    ----------
    model : transformers.PreTrainedModel
        The base model (e.g. ``LlamaModel``): calling it never runs the LM head.
    tokenizer : transformers.PreTrainedTokenizerBase
        Left padding; pad token = EOS when the tokenizer had none.
    pad_id : int
        Token id used for padding (masked out everywhere).
    device, dtype : str
        Where and in which precision the model runs.
    load_seconds : float
        Wall time of the load, for the logs.
    """

    model: object
    tokenizer: object
    pad_id: int
    device: str
    dtype: str
    load_seconds: float = 0.0


def _prepare_tokenizer(tok) -> int:
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ConfigError("the model's tokenizer has neither a pad nor an EOS token")
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return int(tok.pad_token_id)


def quiet_transformers() -> None:
    """No third-party progress bars in job logs: transformers draws a "Loading weights"
    bar per load (two per Spark worker), which floods every log; our own line says it."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_backbone(spec: ModelSpec, dtype: str = "float32", device: str = "cpu",
                  cache_dir: Path | None = None, with_lm_head: bool = False) -> Backbone:
    """Load ``spec`` as a base model in ``dtype`` on ``device``, plus its tokenizer.

    Parameters
    ----------
    spec : ModelSpec
        From :func:`~nag_spark.models.spec.resolve_model_spec`.
    dtype : {"float32", "bfloat16"}
        Resolved dtype (see :func:`~nag_spark.models.dtype.resolve_dtype`).
    device : str
        ``cpu`` or ``cuda:N``.
    cache_dir : Path, optional
        Model cache folder (GGUF conversions).
    with_lm_head : bool
        Load the CausalLM with its head (analyses that need logits); extraction never does.

    Examples
    --------
    >>> bb = load_backbone(resolve_model_spec("smollm2-135m"))   # doctest: +SKIP
    >>> type(bb.model).__name__                                   # doctest: +SKIP
    'LlamaModel'
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_transformers()
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    folder = local_model_dir(spec, cache_dir)
    try:
        # AutoModel builds the base model class and drops the lm_head weights: the head is
        # never needed for NAG and costs ~20% of the FLOPs of a small model.
        model_class = AutoModelForCausalLM if with_lm_head else AutoModel
        model = model_class.from_pretrained(str(folder), dtype=torch_dtype(dtype))
        tok = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"model {spec.name!r} cannot be loaded from {folder}: {exc}") from exc
    model.eval().requires_grad_(False)
    model.to(device)
    pad_id = _prepare_tokenizer(tok)
    seconds = time.perf_counter() - start
    log.info("loaded %s (%s) on %s as %s in %.2fs", spec.name, type(model).__name__, device,
             dtype, seconds)
    return Backbone(model=model, tokenizer=tok, pad_id=pad_id, device=device, dtype=dtype,
                    load_seconds=seconds)


def describe_model(spec: ModelSpec, cache_dir: Path | None = None) -> dict:
    """Lineage facts of ``spec`` without loading weights: architecture, L, N per type, digest.

    Returns
    -------
    dict
        ``architecture`` (e.g. ``LlamaForCausalLM``), ``model_type``, ``num_layers``,
        ``n_neurons`` (dict per neuron type), ``digest``, ``folder``.
    """
    from transformers import AutoConfig

    from ..kernels.impact import neuron_counts_from_config

    folder = local_model_dir(spec, cache_dir)
    try:
        config = AutoConfig.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"model {spec.name!r}: cannot read its config in {folder}: {exc}") from exc
    archs = getattr(config, "architectures", None) or [type(config).__name__]
    return {
        "architecture": archs[0],
        "model_type": getattr(config, "model_type", ""),
        "num_layers": int(config.num_hidden_layers),
        "n_neurons": neuron_counts_from_config(config),
        "digest": model_digest(spec, cache_dir),
        "folder": str(folder),
    }
