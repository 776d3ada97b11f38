"""The hook kernel against a plain re-implementation of DESIGN.md §1 on tiny random models.

The reference below does not use the hooks: it runs each document alone (no padding)
through the decoder written out by hand from the model's weights (RMSNorm, projections,
Qwen3 per-head q/k norm, RoPE, causal GQA attention, SwiGLU MLP), captures the six
projection outputs on the way, and checks its own final hidden state against the stock
model's, so the reference is itself verified.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nag_spark.errors import ConfigError, InputError
from nag_spark.kernels.impact import (NEURON_TYPES, NeuronImpact, left_pad,
                                      neuron_counts_from_config, parse_neuron_types, top_k_indices)

K = 5
TOL = 1e-5


def _randomise(model, seed: int):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                # Non-trivial norms, so q_norm/k_norm placement matters.
                p.copy_(1.0 + 0.5 * torch.rand(p.shape, generator=gen))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    return model.eval()


def tiny_llama(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=97, hidden_size=48, intermediate_size=80, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=False)
    torch.manual_seed(seed)
    return _randomise(LlamaForCausalLM(cfg), seed)


def tiny_qwen3(seed=1):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    # head_dim 20 != hidden/heads: N of the attention types is heads*head_dim, not hidden.
    cfg = Qwen3Config(vocab_size=97, hidden_size=48, intermediate_size=72, num_hidden_layers=3,
                      num_attention_heads=6, num_key_value_heads=2, head_dim=20,
                      max_position_embeddings=128, tie_word_embeddings=False)
    torch.manual_seed(seed)
    return _randomise(Qwen3ForCausalLM(cfg), seed)


def _rms(x, weight, eps):
    x32 = x.float()
    return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps))


def _rope(x, theta):
    # x: (heads, T, D); standard rotate-half RoPE, positions 0..T-1.
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = torch.arange(x.shape[1], dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def reference_outputs(model, ids: list[int]):
    """Per layer, the six projection outputs (T × N) of one unpadded document."""
    cfg = model.config
    H, Hkv = cfg.num_attention_heads, cfg.num_key_value_heads
    D = getattr(cfg, "head_dim", None) or cfg.hidden_size // H
    theta = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", None) \
        or getattr(cfg, "rope_theta", 10000.0)
    base = model.model
    T = len(ids)
    h = base.embed_tokens.weight[torch.tensor(ids)]
    outs = []
    with torch.no_grad():
        for layer in base.layers:
            att = layer.self_attn
            x = _rms(h, layer.input_layernorm.weight, cfg.rms_norm_eps)
            q = att.q_proj(x).view(T, H, D)
            k = att.k_proj(x).view(T, Hkv, D)
            v = att.v_proj(x).view(T, Hkv, D)
            if hasattr(att, "q_norm"):
                q = _rms(q, att.q_norm.weight, cfg.rms_norm_eps)
                k = _rms(k, att.k_norm.weight, cfg.rms_norm_eps)
            rep = H // Hkv
            k_exp = k.repeat_interleave(rep, dim=1)  # query head h reads kv head h // rep
            v_exp = v.repeat_interleave(rep, dim=1)
            qr, kr = _rope(q.transpose(0, 1), theta), _rope(k_exp.transpose(0, 1), theta)
            scores = qr @ kr.transpose(1, 2) / D ** 0.5
            scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
            ctx = (scores.softmax(-1) @ v_exp.transpose(0, 1)).transpose(0, 1).reshape(T, H * D)
            o = att.o_proj(ctx)
            h = h + o
            y = _rms(h, layer.post_attention_layernorm.weight, cfg.rms_norm_eps)
            up = layer.mlp.up_proj(y)
            down = layer.mlp.down_proj(torch.nn.functional.silu(layer.mlp.gate_proj(y)) * up)
            h = h + down
            outs.append({"fwd_up": up, "fwd_down": down, "att_q": q.reshape(T, -1),
                         "att_k": k_exp.reshape(T, -1), "att_v": v_exp.reshape(T, -1),
                         "att_o": o})
        final = _rms(h, base.norm.weight, cfg.rms_norm_eps)
    return outs, final


def assert_same_top_k(got: np.ndarray, ref_imp: np.ndarray, k: int):
    """``got`` (K indices) is a top-K of ``ref_imp`` up to float ties at the boundary."""
    assert len(set(got.tolist())) == k
    kth = np.sort(ref_imp)[::-1][k - 1]
    assert (ref_imp[got] >= kth - TOL).all(), (got, np.argsort(-ref_imp)[:k])
    must = np.nonzero(ref_imp > kth + TOL)[0]
    assert set(must.tolist()) <= set(got.tolist())


def assert_doc_matches(imps, tops, d: int, reference) -> None:
    """Impacts and top-K of document ``d`` equal ``reference(type, layer)`` (an N vector)."""
    for t in NEURON_TYPES:
        for layer in range(imps[t].shape[1]):
            ref = reference(t, layer)
            torch.testing.assert_close(imps[t][d, layer], ref, atol=TOL, rtol=1e-4)
            assert_same_top_k(tops[t][d, layer], ref.numpy(), K)


DOCS = [[5, 17, 33, 2, 90, 41, 7, 7, 12], [3, 4], [60, 61, 62, 63, 64, 1], [88]]


@pytest.mark.parametrize("factory", [tiny_llama, tiny_qwen3], ids=["llama", "qwen3"])
def test_matches_reference_for_all_six_types(factory):
    model = factory()
    nag = NeuronImpact(model, NEURON_TYPES, top_k=K)
    ids, mask = left_pad(DOCS, pad_id=0)
    imps = nag.impacts(ids, mask)
    tops = nag.top_k(ids, mask)
    counts = neuron_counts_from_config(model.config)
    base_out = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    for d, doc in enumerate(DOCS):
        outs, final = reference_outputs(model, doc)
        # The hand-written decoder agrees with the stock model on the document's tokens.
        torch.testing.assert_close(final, base_out[d, -len(doc):], atol=1e-4, rtol=1e-4)
        for t in NEURON_TYPES:
            assert imps[t].shape == (len(DOCS), 3, counts[t]) == (len(DOCS), 3, nag.n_neurons[t])
        assert_doc_matches(imps, tops, d, lambda t, layer: outs[layer][t].abs().mean(0))
    nag.close()


@pytest.mark.parametrize("factory", [tiny_llama, tiny_qwen3], ids=["llama", "qwen3"])
def test_padding_invariance(factory):
    model = factory()
    nag = NeuronImpact(model, NEURON_TYPES, top_k=K)
    ids, mask = left_pad(DOCS, pad_id=3)
    batch, batch_imp = nag.top_k(ids, mask), nag.impacts(ids, mask)
    for d, doc in enumerate(DOCS):
        alone = nag.impacts(*left_pad([doc], pad_id=3))
        assert_doc_matches(batch_imp, batch, d, lambda t, layer: alone[t][0, layer])


def test_lm_head_never_runs_and_hooks_are_inert_outside():
    model = tiny_llama()
    calls = []
    model.lm_head.register_forward_hook(lambda *a: calls.append(1))
    nag = NeuronImpact(model, ["fwd_up"], top_k=K)
    ids, mask = left_pad(DOCS, pad_id=0)
    out = nag.top_k(ids, mask)["fwd_up"]
    assert out.shape == (len(DOCS), 3, K) and out.dtype == np.int64
    assert calls == []
    model(input_ids=ids, attention_mask=mask)  # the model still works normally
    assert calls == [1]
    nag.close()
    assert not model.model.layers[0].mlp.up_proj._forward_hooks


def test_ties_keep_the_lower_index():
    imp = torch.tensor([[0.5, 2.0, 1.0, 2.0, 1.0, 0.1]])
    assert top_k_indices(imp, 4).tolist() == [[1, 3, 2, 4]]
    # att_k expands each KV neuron to its query heads: exact ties, still deterministic.
    model = tiny_qwen3()
    nag = NeuronImpact(model, ["att_k", "att_v"], top_k=K)
    ids, mask = left_pad(DOCS, pad_id=0)
    first = nag.top_k(ids, mask)
    again = nag.top_k(ids, mask)
    for t in ("att_k", "att_v"):
        np.testing.assert_array_equal(first[t], again[t])


def test_unsupported_architecture_names_the_missing_module():
    model = tiny_llama()
    del model.model.layers[1].mlp.up_proj
    with pytest.raises(ConfigError, match=r"layer 1 has no module 'mlp.up_proj'"):
        NeuronImpact(model, ["fwd_up"])
    with pytest.raises(ConfigError, match="no decoder layer list at 'layers'"):
        NeuronImpact(torch.nn.Linear(2, 2), ["fwd_up"])


def test_bad_options():
    with pytest.raises(InputError, match="unknown neuron type 'fwd_gate'"):
        parse_neuron_types("fwd_up,fwd_gate")
    assert parse_neuron_types("att_o, fwd_up,att_o") == ("att_o", "fwd_up")
    with pytest.raises(InputError, match="larger than the number of neurons"):
        top_k_indices(torch.zeros(1, 3), 4)
