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


# ------------------------------------------------------------------ against today's kernel
# `todays_impacts` is the kernel as it was before the GPU work, kept here word for word in
# its numerics (own hooks: |o| upcast to fp32, then a bmm with the 0/1 token weights; the
# mask and position ids always passed), so every change is checked against it.

def todays_impacts(model, types, ids, mask):
    from nag_spark.kernels.impact import _HOOK_POINTS, _KV_TYPES, base_model_of, decoder_layers

    base = base_model_of(model)
    cfg = base.config
    n_rep = cfg.num_attention_heads // (getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)
    weights, counts = mask[:, None, :].float(), mask.sum(1, keepdim=True).float()
    found, handles = {t: {} for t in types}, []

    def make(t, li):
        def hook(module, args, output):
            out = output.reshape(output.shape[0], output.shape[1], -1).abs()
            imp = torch.bmm(weights, out.float()).squeeze(1) / counts
            if t in _KV_TYPES and n_rep > 1:
                imp = imp.view(imp.shape[0], cfg.num_key_value_heads, -1)
                imp = imp.repeat_interleave(n_rep, dim=1).reshape(imp.shape[0], -1)
            found[t][li] = imp
        return hook

    for t in types:
        for li, layer in enumerate(decoder_layers(base)):
            path = next(p for p in _HOOK_POINTS[t] if _has(layer, p))
            handles.append(layer.get_submodule(path).register_forward_hook(make(t, li)))
    try:
        with torch.inference_mode():
            base(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(1) - 1).clamp(min=0),
                 use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return {t: torch.stack([found[t][i] for i in sorted(found[t])], dim=1) for t in types}


def todays_top_k(impact, k):
    return torch.sort(impact, dim=-1, descending=True, stable=True).indices[..., :k]


def _has(layer, path):
    try:
        layer.get_submodule(path)
        return True
    except AttributeError:
        return False


DENSE = [[5, 17, 33, 2], [60, 61, 62, 63], [9, 9, 9, 9]]  # every document fills the width


@pytest.mark.parametrize("factory", [tiny_llama, tiny_qwen3], ids=["llama", "qwen3"])
@pytest.mark.parametrize("docs", [DOCS, DENSE], ids=["padded", "dense"])
def test_fp32_impacts_and_nags_are_bitwise_todays(factory, docs):
    model = factory()
    nag = NeuronImpact(model, NEURON_TYPES, top_k=K)
    ids, mask = left_pad(docs, pad_id=0)
    new, old = nag.impacts(ids, mask), todays_impacts(model, NEURON_TYPES, ids, mask)
    tops = nag.top_k(ids, mask)
    for t in NEURON_TYPES:
        assert torch.equal(new[t], old[t]), t
        np.testing.assert_array_equal(tops[t], todays_top_k(old[t], K).numpy())


def _bf16_bound(mask):
    # Two orders of fp32 summation of the same T exact terms differ by at most
    # 2 (T - 1) u times the sum (u = 2^-24), hence the same relative bound on the mean.
    return 2 * (int(mask.sum(1).max()) - 1) * 2.0 ** -24


@pytest.mark.parametrize("factory", [tiny_llama, tiny_qwen3], ids=["llama", "qwen3"])
def test_bf16_impacts_equal_todays_up_to_fp32_reassociation(factory):
    model = factory().to(torch.bfloat16)
    nag = NeuronImpact(model, NEURON_TYPES, top_k=K)
    ids, mask = left_pad(DOCS, pad_id=0)
    new, old = nag.impacts(ids, mask), todays_impacts(model, NEURON_TYPES, ids, mask)
    bound = _bf16_bound(mask)
    tops = nag.top_k(ids, mask)
    checked = []
    for t in NEURON_TYPES:
        assert new[t].dtype == torch.float32
        rel = ((new[t] - old[t]).abs() / old[t].clamp(min=1e-30)).max().item()
        assert rel <= bound, (t, rel, bound)
        # The NAG is today's wherever the K-th and (K+1)-th impacts are further apart
        # than the bound allows the two sums to differ.
        ranked = old[t].sort(dim=-1, descending=True).values
        gap_ok = (ranked[..., K - 1] - ranked[..., K]) > 2 * bound * ranked[..., K - 1]
        same = (tops[t] == todays_top_k(old[t], K).numpy()).all(-1)
        assert same[gap_ok.numpy()].all(), t
        checked.append(gap_ok.float().mean().item())
    # Not vacuous: most (document, layer) NAGs are compared (att_k/att_v expand each KV
    # neuron to its query heads, so their K-th and (K+1)-th impacts are often exactly tied).
    assert np.mean(checked) > 0.5, checked


def test_padded_positions_never_reach_an_impact_even_nan():
    """An attention backend may leave NaN in fully masked (padded) rows: inject NaN there in
    what the NAG hooks see (downstream modules get the clean output back), and compare."""
    model = tiny_qwen3()
    ids, mask = left_pad(DOCS, pad_id=0)
    clean = NeuronImpact(model, NEURON_TYPES, top_k=K)
    expected = clean.impacts(ids, mask)
    clean.close()
    pad = (mask == 0)[:, :, None]
    handles, saved = [], {}
    from nag_spark.kernels.impact import _HOOK_POINTS

    for t in NEURON_TYPES:
        for layer in model.model.layers:
            module = layer.get_submodule(next(p for p in _HOOK_POINTS[t] if _has(layer, p)))

            def poison(mod, args, out):
                saved[id(mod)] = out
                flat = out.reshape(out.shape[0], out.shape[1], -1)
                return flat.masked_fill(pad, float("nan")).reshape(out.shape)
            handles.append(module.register_forward_hook(poison, prepend=True))
    nag = NeuronImpact(model, NEURON_TYPES, top_k=K)
    for t in NEURON_TYPES:
        for layer in model.model.layers:
            module = layer.get_submodule(next(p for p in _HOOK_POINTS[t] if _has(layer, p)))
            handles.append(module.register_forward_hook(lambda mod, a, out: saved[id(mod)]))
    try:
        got = nag.impacts(ids, mask)
        for t in NEURON_TYPES:
            assert torch.isfinite(got[t]).all() and torch.equal(got[t], expected[t]), t
    finally:
        nag.close()
        for h in handles:
            h.remove()


def test_todays_reduction_let_padding_nan_through():
    """Why the padding is zeroed, not weighted: the old reduction gives NaN here."""
    from nag_spark.kernels.reduce import mean_abs_over_valid

    out = torch.tensor([[[float("nan"), 1.0], [2.0, -4.0]]])
    weights, counts = torch.tensor([[[0.0, 1.0]]]), torch.tensor([[1.0]])
    assert torch.isnan(torch.bmm(weights, out.abs()).squeeze(1) / counts).any()
    pad = torch.tensor([[[True], [False]]])
    assert mean_abs_over_valid(out, weights, counts, pad).tolist() == [[2.0, 4.0]]
    assert mean_abs_over_valid(out.bfloat16(), weights, counts, pad).tolist() == [[2.0, 4.0]]


def _calls(module):
    seen = []
    return seen, module.register_forward_hook(lambda *a: seen.append(1))


@pytest.mark.parametrize("types, skipped", [
    (["fwd_up"], ("mlp.down_proj",)), (["att_o"], ("mlp.up_proj", "mlp.down_proj")),
    (["att_q", "fwd_up"], ("mlp.down_proj",))])
def test_the_forward_stops_after_the_last_needed_hook(types, skipped):
    model = tiny_llama()
    last = model.model.layers[-1]
    ids, mask = left_pad(DOCS, pad_id=0)
    spies = {p: _calls(last.get_submodule(p)) for p in skipped}
    norm_calls, norm_handle = _calls(model.model.norm)
    early = NeuronImpact(model, types, top_k=K)
    got = early.impacts(ids, mask)
    early.close()
    assert all(not seen for seen, _ in spies.values()) and not norm_calls
    full = NeuronImpact(model, types, top_k=K, stop_early=False)
    want = full.impacts(ids, mask)
    full.close()
    assert all(seen for seen, _ in spies.values()) and norm_calls  # the spies do see calls
    for t in types:
        assert torch.equal(got[t], want[t])
    for _, handle in [*spies.values(), (None, norm_handle)]:
        handle.remove()
    model(input_ids=ids, attention_mask=mask)  # the model is left usable


def test_a_dense_batch_runs_without_a_mask():
    model = tiny_llama()
    seen = []
    handle = model.model.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append(kwargs.get("attention_mask")), with_kwargs=True)
    nag = NeuronImpact(model, ["fwd_up"], top_k=K)
    nag.impacts(*left_pad(DENSE, pad_id=0))
    nag.impacts(*left_pad(DOCS, pad_id=0))
    handle.remove()
    assert seen[0] is None and seen[1] is not None


# ------------------------------------------------------------------ top-K without a full sort
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALUES = st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.0, 2.0, 2.0, 3.5, 1e-30, 3e38,
                           float("inf"), -1.0, -float("inf")])


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(1, 4), n=st.integers(1, 40), data=st.data())
def test_top_k_is_todays_stable_sort_on_ties(rows, n, data):
    values = data.draw(st.lists(_VALUES, min_size=rows * n, max_size=rows * n))
    k = data.draw(st.integers(1, n))
    impact = torch.tensor(values, dtype=torch.float32).reshape(rows, n)
    assert torch.equal(top_k_indices(impact, k), todays_top_k(impact, k))


def test_top_k_on_random_impacts_with_many_ties():
    gen = torch.Generator().manual_seed(3)
    for n, k in [(6144, 20), (1024, 20), (96, 96), (20, 1)]:
        impact = torch.randint(0, 7, (3, 5, n), generator=gen).float() / 4  # heavy ties
        assert torch.equal(top_k_indices(impact, k), todays_top_k(impact, k))
        impact = torch.rand((3, 5, n), generator=gen)
        assert torch.equal(top_k_indices(impact, k), todays_top_k(impact, k))
    fp64 = torch.tensor([[1.0, 2.0, 2.0]], dtype=torch.float64)
    assert top_k_indices(fp64, 2).tolist() == [[1, 2]]  # other dtypes: the stable sort


# ------------------------------------------------------------------ fusion (CPU-checkable parts)

def test_fusion_patches_keep_the_hooks_and_the_numbers():
    """The compile mode's patched MLP and norms, run with an identity 'compiler' (torch.compile
    itself needs a GPU run): same modules, same order, same NAGs bit for bit."""
    from nag_spark.kernels.fusion import fuse_model, reducer_for

    model = tiny_qwen3()
    ids, mask = left_pad(DOCS, pad_id=0)
    plain = NeuronImpact(model, NEURON_TYPES, top_k=K)
    want = plain.impacts(ids, mask)
    plain.close()
    assert fuse_model(model, "compile", "cuda:0", compiler=lambda f: f) == "compile"
    fused = NeuronImpact(model, NEURON_TYPES, top_k=K,
                         reducer=reducer_for("compile", compiler=lambda f: f))
    got = fused.impacts(ids, mask)
    fused.close()
    for t in NEURON_TYPES:
        assert torch.equal(got[t], want[t]), t
    assert fuse_model(tiny_llama(), "compile", "cpu") == "off"  # CPU: eager, always


def test_fusion_falls_back_to_eager_and_names_missing_liger(monkeypatch):
    from nag_spark.kernels import fusion
    from nag_spark.kernels.fusion import check_fusion, compiled, fuse_model

    warnings = []
    monkeypatch.setattr(fusion.log, "warning", lambda msg, *a: warnings.append(msg % a))

    def broken_compiler(fn):
        def run(*args, **kwargs):
            raise RuntimeError("triton: no working C compiler")
        return run
    double = compiled(lambda x: 2 * x, broken_compiler)
    assert double(torch.tensor(2.0)) == 4.0 and double.failed
    assert double(torch.tensor(3.0)) == 6.0 and len(warnings) == 1  # fell back once, for good
    assert "no working C compiler" in warnings[0] and "running it eagerly" in warnings[0]

    def oom_compiler(fn):
        def run(*args, **kwargs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return run
    kept = compiled(lambda x: x, oom_compiler)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        kept(torch.tensor(1.0))
    assert not kept.failed  # an OOM is for the batching back-off, not a compile failure
    with pytest.raises(ConfigError, match="needs the liger-kernel package"):
        fuse_model(tiny_llama(), "liger", "cuda:0")
    with pytest.raises(ConfigError, match="fusion must be one of off, compile, liger"):
        check_fusion("triton")


# ------------------------------------------------------------------ on CUDA (GPU machines only)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.parametrize("factory", [tiny_llama, tiny_qwen3], ids=["llama", "qwen3"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_on_cuda_padded_equals_alone_and_matches_the_cpu(factory, dtype):
    cpu_model = factory()
    model = factory().to("cuda", dtype)
    nag = NeuronImpact(model, NEURON_TYPES, top_k=K)
    ids, mask = left_pad(DOCS, pad_id=3)  # host tensors: pinned, non-blocking copies
    batch = nag.impacts(ids, mask)
    pending = nag.submit(ids, mask)
    tops = pending.result()
    tol = dict(atol=TOL, rtol=1e-4) if dtype == torch.float32 else dict(atol=2e-2, rtol=2e-2)
    for d, doc in enumerate(DOCS):
        alone = nag.impacts(*left_pad([doc], pad_id=3))
        for t in NEURON_TYPES:
            torch.testing.assert_close(batch[t][d], alone[t][0], **tol)
    if dtype == torch.float32:
        ref = NeuronImpact(cpu_model, NEURON_TYPES, top_k=K).impacts(ids, mask)
        for t in NEURON_TYPES:
            torch.testing.assert_close(batch[t].cpu(), ref[t], atol=TOL, rtol=1e-4)
            for d in range(len(DOCS)):
                for layer in range(batch[t].shape[1]):
                    assert_same_top_k(tops[t][d, layer], ref[t][d, layer].numpy(), K)


@needs_cuda
def test_on_cuda_top_k_keys_equal_the_stable_sort():
    gen = torch.Generator(device="cuda").manual_seed(0)
    impact = torch.randint(0, 5, (64, 28, 6144), device="cuda", generator=gen).float()
    assert torch.equal(top_k_indices(impact, 20), todays_top_k(impact, 20))
