"""The features' model, loaded with its LM head and checked against the features' lineage.

The deactivation analysis measures a loss, so it needs the logits that extraction never
computes; the weights are the same files (the local safetensors cache for GGUF models).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import LineageMismatchError
from ..models.device import resolve_device
from ..tables.features import FeaturesLineage, n_neurons_key, property_key
from .deactivation_options import NEURON_TYPE


@dataclass
class LoadedModel:
    """A causal LM ready to measure: what was loaded, from where, on which device."""

    name: str
    digest: str
    model: "torch.nn.Module"  # noqa: F821
    tokenizer: object
    device: str
    dtype: str


def load_causal_lm(spec, dtype: str = "float32", device: str = "cpu", cache_dir=None):
    """Load ``spec`` with its LM head (the loss needs logits) and a tokenizer.

    Extraction loads the base model only (:func:`~nag_spark.models.load_backbone`); the
    weights are the same files (the local safetensors cache for GGUF models).

    Returns
    -------
    tuple
        ``(model, tokenizer)``, the model in eval mode with gradients off.
    """
    from ..models import load_backbone

    backbone = load_backbone(spec, dtype, device, cache_dir=cache_dir, with_lm_head=True)
    return backbone.model, backbone.tokenizer


def _check_shape(model, name: str, lineage: FeaturesLineage) -> None:
    """Refuse a model whose L or N of fwd_up differs from the features'."""
    cfg = model.config
    for key, want, have in ((property_key("num_layers"), lineage.num_layers, cfg.num_hidden_layers),
                            (n_neurons_key(NEURON_TYPE), lineage.n_neurons.get(NEURON_TYPE),
                             cfg.intermediate_size)):
        if want is not None and int(want) != int(have):
            raise LineageMismatchError(f"model {name!r} has {key}={have} but the features "
                                       f"{lineage.table} have {want}")


def load_checked_model(spark, model: str | None, dtype: str, device: str,
                       lineage: FeaturesLineage) -> LoadedModel:
    """Load ``model`` (default: the features' ``nag.model``) on ``device``, refusing other
    weights (digest), layers or neuron counts than the features were extracted with."""
    from ..models import model_cache_dir, model_digest, resolve_dtype, resolve_model_spec

    name = model or lineage.require("model")
    spec = resolve_model_spec(name)
    cache = model_cache_dir(dict(spark.sparkContext.getConf().getAll()))
    want, have = lineage.model_digest, model_digest(spec, cache)
    if want and have != want:
        raise LineageMismatchError(
            f"model {name!r} has weights digest {have} but the features {lineage.table} were "
            f"extracted with {lineage.model!r} ({want}): the neurons would not match")
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    lm, tok = load_causal_lm(spec, dtype, device, cache)
    _check_shape(lm, name, lineage)
    return LoadedModel(name, have, lm, tok, device, dtype)
