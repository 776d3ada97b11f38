"""Backbone models: resolving a model spec, the local safetensors cache, dtype, loading.

``resolve_model_spec`` turns what a user typed (``smollm2-135m``, a folder, a hub id or a
``.gguf`` file) into a :class:`~nag_spark.models.spec.ModelSpec`; ``local_model_dir`` makes
it a folder of safetensors on this node (converting GGUF once); ``load_backbone`` loads the
base model (no LM head) and a left-padding tokenizer from that folder.
"""
from .cache import local_model_dir, model_cache_dir, model_digest
from .dtype import cpu_has_native_bf16, resolve_dtype
from .loading import Backbone, describe_model, load_backbone
from .spec import DEFAULT_MODEL, MODEL_ALIASES, ModelSpec, resolve_model_spec

__all__ = [
    "DEFAULT_MODEL", "MODEL_ALIASES", "ModelSpec", "resolve_model_spec",
    "model_cache_dir", "local_model_dir", "model_digest",
    "cpu_has_native_bf16", "resolve_dtype",
    "Backbone", "describe_model", "load_backbone",
]
