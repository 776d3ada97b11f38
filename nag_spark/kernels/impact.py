"""Neuron impact and top-K per layer by forward hooks on stock transformers modules.

This is DESIGN.md §1 steps 2-3 in code. For each decoder layer ``l`` and neuron type, a
forward hook sees the projection output ``o_l`` (batch × tokens × N) and reduces it at once
to ``imp_l[n] = mean over valid tokens of |o_l[t, n]|``; the full activations are never kept
and never leave the device. After the forward pass only the ``L × K`` top indices per
document are copied to the host.

Hook points (module names inside each decoder layer):

==========  ================================================  =========================
type        module output hooked                              N
==========  ================================================  =========================
fwd_up      ``mlp.up_proj``                                   intermediate size
fwd_down    ``mlp.down_proj``                                 hidden size
att_q       ``self_attn.q_norm`` if present, else ``q_proj``  heads × head_dim
att_k       ``self_attn.k_norm`` if present, else ``k_proj``  heads × head_dim (expanded)
att_v       ``self_attn.v_proj``                              heads × head_dim (expanded)
att_o       ``self_attn.o_proj``                              hidden size
==========  ================================================  =========================

``q_norm``/``k_norm`` (Qwen3) run before RoPE in the stock attention code, so hooking them
gives "after the per-head norm, before RoPE". With grouped-query attention, query head
``h`` reads key/value head ``h // (heads / kv_heads)``; the impact of an expanded neuron
equals that of its KV neuron, so impacts are computed on the KV projection and then
repeated per query head (``repeat_interleave``), which is exact and cheaper than
expanding activations.

Ties. ``top_k_indices`` keeps the lower neuron index first among equal impacts (the order
of a stable descending sort, taken with ``torch.topk`` on tie-breaking keys:
:mod:`.reduce`). Exact ties are common for ``att_k``/``att_v`` (each KV neuron appears
once per query head of its group) and this rule makes the result deterministic on every
device.

Positions and padding. Documents are left padded; position ids are computed from the
attention mask (first valid token at position 0), so a document gets the same positions
alone or in a padded batch. Padded positions are zeroed before the reduction, so whatever
the attention backend leaves there (NaN included for fully masked rows) never reaches an
impact. A batch without padding (every document fills the batch width, as documents that
reach ``max_length`` do) is run with no attention mask at all: the model then takes the
dense causal path (SDPA ``is_causal``, native GQA, flash kernels) with no host sync to
inspect the mask.

Work that is not needed is not done. The LM head is never run: the hooks are put on the
base model (``model.base_model``), and the base model is what is called. The forward also
stops as soon as the last hooked projection of the last layer has been reduced (a private
exception raised from that hook): with ``fwd_up`` only, the last layer's activation,
``down_proj`` and the final norm are skipped.

Host and device. Inputs built on the host are copied to a CUDA model from pinned memory
with ``non_blocking``; :meth:`NeuronImpact.submit` returns the top-K before it reaches the
host (:class:`~.transfer.PendingTopK`), so a caller can queue the next batch before it
waits for this one. On CPU nothing of this applies and results are ready at once.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import ConfigError, InputError
from .neuron_types import NEURON_TYPES, parse_neuron_types  # noqa: F401 (re-exported)
from .reduce import mean_abs_over_valid, top_k_indices  # noqa: F401 (top_k_indices re-exported)
from .transfer import PendingTopK, to_device


# For each type: candidate module paths inside a decoder layer, the first present wins.
_HOOK_POINTS = {
    "fwd_up": ("mlp.up_proj",),
    "fwd_down": ("mlp.down_proj",),
    "att_q": ("self_attn.q_norm", "self_attn.q_proj"),
    "att_k": ("self_attn.k_norm", "self_attn.k_proj"),
    "att_v": ("self_attn.v_proj",),
    "att_o": ("self_attn.o_proj",),
}
# The projection each type ultimately reads; it must exist even when a norm is hooked.
_REQUIRED = {"att_q": "self_attn.q_proj", "att_k": "self_attn.k_proj"}
_KV_TYPES = ("att_k", "att_v")


def _head_dim(config) -> int:
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


def neuron_counts_from_config(config) -> dict[str, int]:
    """N per neuron type from a transformers config (no weights needed)."""
    heads = int(config.num_attention_heads)
    att = heads * _head_dim(config)
    return {
        "fwd_up": int(config.intermediate_size),
        "fwd_down": int(config.hidden_size),
        "att_q": att, "att_k": att, "att_v": att,
        "att_o": int(config.hidden_size),
    }


def base_model_of(model: torch.nn.Module) -> torch.nn.Module:
    """The base model (no LM head) of a CausalLM, or ``model`` itself if it is one."""
    base = getattr(model, "base_model", None)
    return base if isinstance(base, torch.nn.Module) else model


def decoder_layers(base: torch.nn.Module) -> Sequence[torch.nn.Module]:
    """The decoder layers of a base model (``base.layers``)."""
    layers = getattr(base, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList) or len(layers) == 0:
        raise ConfigError(
            f"unsupported architecture {type(base).__name__}: no decoder layer list at "
            "'layers' (expected the Llama/Qwen3 layout: layers[i].mlp.up_proj, "
            "layers[i].self_attn.q_proj, ...)"
        )
    return layers


def _submodule(layer: torch.nn.Module, path: str) -> torch.nn.Module | None:
    try:
        return layer.get_submodule(path)
    except AttributeError:
        return None


def left_pad(token_lists: Sequence[Sequence[int]], pad_id: int,
             device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token id lists into ``(input_ids, attention_mask)`` of shape (B, T).

    Examples
    --------
    >>> ids, mask = left_pad([[5, 6], [7]], pad_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6], [0, 7]], [[1, 1], [0, 1]])
    """
    width = max((len(t) for t in token_lists), default=0)
    ids = np.full((len(token_lists), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(token_lists), width), dtype=np.int64)
    for i, toks in enumerate(token_lists):
        if len(toks):
            ids[i, width - len(toks):] = toks
            mask[i, width - len(toks):] = 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


class _ForwardDone(Exception):
    """Raised by the last needed hook: nothing after it is computed."""


class NeuronImpact:
    """Hooks on a transformers decoder that compute per-layer neuron impacts and top-K.

    Parameters
    ----------
    model : torch.nn.Module
        A base model or CausalLM with the Llama/Qwen3 module layout. Only its base model is
        hooked and called.
    neuron_types : sequence of str
        Any of :data:`NEURON_TYPES`.
    top_k : int
        K, indices kept per layer.
    stop_early : bool
        Stop the forward once the last layer's hooked projections are reduced (default).
    reducer : callable, optional
        ``reducer(out, weights, counts, pad)``; default
        :func:`~.reduce.mean_abs_over_valid` (a fused version: :mod:`.fusion`).

    Notes
    -----
    The hooks stay registered until :meth:`close` but do nothing outside
    :meth:`impacts`/:meth:`top_k`, so the model can be used normally meanwhile.

    Examples
    --------
    >>> nag = NeuronImpact(model, ["fwd_up"], top_k=20)        # doctest: +SKIP
    >>> ids, mask = left_pad(token_lists, pad_id)               # doctest: +SKIP
    >>> nag.top_k(ids, mask)["fwd_up"].shape                    # doctest: +SKIP
    (B, L, 20)
    """

    def __init__(self, model: torch.nn.Module, neuron_types: Sequence[str] = ("fwd_up",),
                 top_k: int = 20, stop_early: bool = True, reducer=None):
        self.base = base_model_of(model)
        self.layers = decoder_layers(self.base)
        self.neuron_types = parse_neuron_types(neuron_types)
        self.k = int(top_k)
        if self.k <= 0:
            raise InputError(f"top-K must be positive, got {top_k}")
        self.stop_early = bool(stop_early)
        self.reducer = reducer or mean_abs_over_valid
        config = self.base.config
        self.n_heads = int(config.num_attention_heads)
        self.n_kv_heads = int(getattr(config, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = _head_dim(config)
        self.n_rep = self.n_heads // self.n_kv_heads
        self._weights: torch.Tensor | None = None  # (B, 1, T) valid-token weights
        self._counts: torch.Tensor | None = None   # (B, 1) valid tokens per document
        self._pad: torch.Tensor | None = None      # (B, T, 1) True at padding; None: dense
        self._last_done = 0                        # hooks of the last layer fired so far
        self._impacts: dict[str, list] = {t: [None] * len(self.layers) for t in self.neuron_types}
        self._handles = []
        try:
            for t in self.neuron_types:
                for li, layer in enumerate(self.layers):
                    module = self._hook_module(layer, li, t)
                    self._handles.append(module.register_forward_hook(self._make_hook(t, li)))
        except Exception:
            self.close()
            raise
        self.n_neurons = {t: self._n_neurons(t) for t in self.neuron_types}

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def _hook_module(self, layer, li: int, t: str) -> torch.nn.Module:
        if t in _REQUIRED and _submodule(layer, _REQUIRED[t]) is None:
            raise ConfigError(f"unsupported architecture {type(self.base).__name__}: decoder "
                              f"layer {li} has no module '{_REQUIRED[t]}' (needed for {t})")
        for path in _HOOK_POINTS[t]:
            module = _submodule(layer, path)
            if module is not None:
                return module
        raise ConfigError(f"unsupported architecture {type(self.base).__name__}: decoder layer "
                          f"{li} has no module '{_HOOK_POINTS[t][-1]}' (needed for {t})")

    def _n_neurons(self, t: str) -> int:
        if t in ("att_q", "att_k", "att_v"):
            return self.n_heads * self.head_dim
        module = _submodule(self.layers[0], _HOOK_POINTS[t][0])
        return int(module.out_features)

    def _make_hook(self, t: str, li: int):
        last = li == len(self.layers) - 1

        def hook(module, args, output):
            if self._weights is None:
                return
            out = output[0] if isinstance(output, tuple) else output
            # q_norm/k_norm outputs are (B, T, heads, head_dim): flatten the heads.
            out = out.reshape(out.shape[0], out.shape[1], -1)
            imp = self.reducer(out, self._weights, self._counts, self._pad)
            if t in _KV_TYPES and self.n_rep > 1:
                imp = imp.view(imp.shape[0], self.n_kv_heads, -1)
                imp = imp.repeat_interleave(self.n_rep, dim=1).reshape(imp.shape[0], -1)
            self._impacts[t][li] = imp
            if last:
                self._last_done += 1
                if self.stop_early and self._last_done == len(self.neuron_types):
                    raise _ForwardDone
        return hook

    def _device(self) -> torch.device:
        return next(self.base.parameters()).device

    @torch.inference_mode()
    def impacts(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Impacts ``(B, L, N)`` float32 per neuron type, on the model's device.

        Parameters
        ----------
        input_ids, attention_mask : Tensor, shape (B, T)
            Left padded; each row needs at least one valid token. Host tensors are best:
            the checks then need no device sync and the copy is asynchronous.
        """
        device = self._device()
        counts = attention_mask.sum(dim=1, keepdim=True)
        if bool((counts == 0).any()):
            raise InputError("every document in a batch needs at least one valid token")
        dense = bool(attention_mask.bool().all())
        input_ids = to_device(input_ids, device)
        if dense:
            # No mask: the model builds none and takes its dense causal attention path;
            # positions default to 0..T-1, which is what the mask would give.
            mask = position_ids = None
            self._pad = None
        else:
            mask = to_device(attention_mask, device)
            position_ids = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
            self._pad = (mask == 0)[:, :, None]
        self._weights = to_device(attention_mask[:, None, :].to(torch.float32), device)
        self._counts = to_device(counts.to(torch.float32), device)
        self._last_done = 0
        try:
            try:
                self.base(input_ids=input_ids, attention_mask=mask, position_ids=position_ids,
                          use_cache=False)
            except _ForwardDone:
                pass
            out = {t: torch.stack(self._impacts[t], dim=1) for t in self.neuron_types}
        finally:
            self._weights = self._counts = self._pad = None
            for t in self.neuron_types:
                self._impacts[t] = [None] * len(self.layers)
        return out

    def submit(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> PendingTopK:
        """Queue one batch; the NAGs come back with :meth:`PendingTopK.result`.

        On CUDA only the ``B × L × K`` indices are copied back, asynchronously into pinned
        host memory; on CPU the result is ready at once.
        """
        imps = self.impacts(input_ids, attention_mask)
        with torch.inference_mode():
            # Layer by layer: the int64 sort keys of one (B, N) slice at a time.
            return PendingTopK({t: torch.stack([top_k_indices(v[:, i], self.k)
                                                for i in range(v.shape[1])], dim=1)
                                for t, v in imps.items()})

    def top_k(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, np.ndarray]:
        """The NAG per neuron type: int64 arrays ``(B, L, K)`` on the host."""
        return self.submit(input_ids, attention_mask).result()

    def close(self) -> None:
        """Remove the hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []
