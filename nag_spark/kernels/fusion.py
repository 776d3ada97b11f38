"""Optional fusion of the elementwise work of a decoder on GPUs, with eager as the fallback.

At NAG sizes (120-token documents, a 0.6-2B model) the matmuls are fast and eager mode
spends a large share of the time in memory-bound elementwise kernels: RMSNorm, SiLU x up,
and the hook's |o| -> mask -> fp32 sum. Setting ``spark.nag.extract.fusion``:

``off`` (default)
    Eager PyTorch, exactly the reference numerics.
``compile``
    ``torch.compile`` (dynamic shapes) of three pure functions, each one fused kernel:
    the hook reduction, SiLU(gate) x up inside each MLP, and the RMSNorms that no hook
    reads (a layer's input and post-attention norms). The hooked modules themselves stay
    eager modules, so the hooks see exactly what they see in eager mode. Compiled code is
    cached on the node (``TORCHINDUCTOR_CACHE_DIR``; the GPU image points it at the cache
    volume), so only the first worker of a node pays the compile time. If compiling fails
    (no Triton, no C compiler), the function falls back to eager once, with a warning.
``liger``
    Liger kernels (``liger-kernel`` on PyPI: Triton RMSNorm, RoPE, SwiGLU) patched into
    this model instance. Needs the package on the executors; refused clearly without it.

Fusion changes rounding, not the math: fused kernels keep fp32 intermediates that eager
bf16 code rounds, so bf16 NAGs may differ from eager ones at the level of bf16 rounding
(fp32 runs are not affected by the choice in practice). It applies to CUDA only; on CPU the
setting is ignored and the model runs eagerly.
"""
from __future__ import annotations

import os
import types

import torch

from ..errors import ConfigError
from ..logs import get_logger
from .reduce import mean_abs_over_valid

log = get_logger(__name__)

FUSION_CHOICES = ("off", "compile", "liger")


def check_fusion(value: str | None) -> str:
    """Validate a fusion setting (``None``/``""`` mean ``off``).

    >>> check_fusion(None), check_fusion("compile")
    ('off', 'compile')
    """
    mode = (value or "off").strip().lower()
    if mode not in FUSION_CHOICES:
        raise ConfigError(f"spark.nag.extract.fusion must be one of {', '.join(FUSION_CHOICES)}, "
                          f"got {value!r}")
    return mode


def _is_oom(exc: BaseException) -> bool:
    from .batching import is_out_of_memory

    return is_out_of_memory(exc)


class EagerFallback:
    """A compiled function that turns into its eager version the first time compiling fails.

    Out-of-memory errors are not compile failures: they are raised as they are (the
    batching back-off handles them) and the compiled version is kept.
    """

    def __init__(self, fn, compiled):
        self.fn, self.compiled, self.failed = fn, compiled, False

    def __call__(self, *args, **kwargs):
        if not self.failed:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any compile/runtime failure -> eager
                if _is_oom(exc):
                    raise
                self.failed = True
                log.warning("torch.compile of %s failed (%s: %s); running it eagerly",
                            getattr(self.fn, "__name__", self.fn), type(exc).__name__,
                            str(exc).splitlines()[0] if str(exc) else "")
        return self.fn(*args, **kwargs)


def compiled(fn, compiler=None):
    """``fn`` compiled with dynamic shapes, falling back to eager (:class:`EagerFallback`)."""
    compiler = compiler or (lambda f: torch.compile(f, dynamic=True, fullgraph=True))
    return EagerFallback(fn, compiler(fn))


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """``SiLU(gate) * up``, the MLP's elementwise part (Llama/Qwen3 ``hidden_act='silu'``)."""
    return torch.nn.functional.silu(gate) * up


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """The Llama/Qwen3 RMSNorm: fp32 statistics, scaled in the input's dtype."""
    dtype = x.dtype
    x32 = x.to(torch.float32)
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(dtype)


def _patch_mlp(mlp, fused) -> bool:
    if getattr(getattr(mlp, "config", None), "hidden_act", "silu") != "silu":
        return False

    def forward(self, x):
        # Same modules called in the same order: hooks on up_proj/down_proj still fire.
        return self.down_proj(fused(self.gate_proj(x), self.up_proj(x)))
    mlp.forward = types.MethodType(forward, mlp)
    return True


def _patch_norm(norm, fused) -> None:
    eps = float(getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6)))
    norm.forward = types.MethodType(lambda self, x: fused(x, self.weight, eps), norm)


def _compile_model(model, compiler=None) -> None:
    from .impact import base_model_of, decoder_layers

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(
        os.environ.get("NAG_MODEL_CACHE_DIR", os.path.expanduser("~/.cache/nag-spark")),
        "inductor"))
    fused_mlp, fused_norm = compiled(swiglu, compiler), compiled(rms_norm, compiler)
    for layer in decoder_layers(base_model_of(model)):
        _patch_mlp(layer.mlp, fused_mlp)
        for name in ("input_layernorm", "post_attention_layernorm"):
            _patch_norm(getattr(layer, name), fused_norm)


def _liger(model) -> None:
    try:
        from liger_kernel.transformers import (apply_liger_kernel_to_llama,
                                               apply_liger_kernel_to_qwen3)
    except ImportError:
        raise ConfigError("spark.nag.extract.fusion=liger needs the liger-kernel package on the "
                          "executors (pip install liger-kernel); use fusion=compile or off") from None
    kind = getattr(model.config, "model_type", "")
    apply = {"llama": apply_liger_kernel_to_llama, "qwen3": apply_liger_kernel_to_qwen3}.get(kind)
    if apply is None:
        raise ConfigError(f"spark.nag.extract.fusion=liger supports llama and qwen3 models, "
                          f"not {kind!r}; use fusion=compile or off")
    apply(model=model, rope=True, rms_norm=True, swiglu=True, cross_entropy=False,
          fused_linear_cross_entropy=False)


def fuse_model(model: torch.nn.Module, mode: str, device: str, compiler=None) -> str:
    """Apply fusion ``mode`` to ``model`` in place (before any NAG hook is put on it).

    Returns the mode in effect: ``off`` on CPU whatever was asked.
    """
    mode = check_fusion(mode)
    if mode == "off":
        return "off"
    if not str(device).startswith("cuda"):
        log.info("fusion %s applies to CUDA devices only; running eagerly on %s", mode, device)
        return "off"
    if mode == "compile":
        _compile_model(model, compiler)
    else:
        _liger(model)
    log.info("fusion %s applied to %s", mode, type(model).__name__)
    return mode


def reducer_for(mode: str, compiler=None):
    """The hook reduction for a fusion mode in effect (a fused one for ``compile``)."""
    return compiled(mean_abs_over_valid, compiler) if mode == "compile" else mean_abs_over_valid
