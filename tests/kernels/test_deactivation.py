"""Neuron deactivation kernels against straightforward references on tiny random models.

The tiny Llama/Qwen3 models come from test_impact.py (built from a config with a seed). The
last test runs the paper's analysis on real SmolLM2 features and HellaSwag texts.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_impact import _randomise, tiny_llama, tiny_qwen3  # noqa: E402

from nag_spark.errors import InputError  # noqa: E402
from nag_spark.kernels.deactivation import (deactivated, deactivation_effect, lm_loss,  # noqa: E402
                                            random_neurons_like, top_target_neurons,
                                            up_proj_neuron_count)
from nag_spark.kernels.impact import NeuronImpact, left_pad  # noqa: E402
from nag_spark.kernels.profile import TargetProfile  # noqa: E402


def tiny_llama_with_bias(seed=2):
    from transformers import LlamaConfig, LlamaForCausalLM

    # mlp_bias=True: up_proj has a bias, which must be zeroed and restored with the rows.
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                      mlp_bias=True, tie_word_embeddings=False)
    torch.manual_seed(seed)
    return _randomise(LlamaForCausalLM(cfg), seed)


MODELS = {"llama": tiny_llama, "qwen3": tiny_qwen3, "llama_bias": tiny_llama_with_bias}
# Per model: layer -> neurons to switch off (duplicates and the last index on purpose).
CHOICES = {"llama": {0: [1, 5, 7, 5], 2: [0, 79]}, "qwen3": {1: [3, 71], 2: [10]},
           "llama_bias": {0: [0, 39], 1: [2]}}


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _token_lists(seed: int, lengths=(7, 1, 12, 3, 9, 2)) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(3, 97, n).tolist() for n in lengths]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_deactivated_zeroes_exactly_the_rows_and_restores_bit_exactly(name):
    model = MODELS[name]()
    before = _snapshot(model)
    choice = CHOICES[name]
    with deactivated(model, {l: np.array(v) for l, v in choice.items()}) as m:
        assert m is model
        for key, value in model.state_dict().items():
            parts = key.split(".")
            layer = int(parts[2]) if parts[1] == "layers" else None
            if layer in choice and ".mlp.up_proj." in key:
                rows = sorted(set(choice[layer]))
                others = [r for r in range(value.shape[0]) if r not in rows]
                assert (value[rows] == 0).all(), key
                assert torch.equal(value[others], before[key][others]), key
            else:
                assert torch.equal(value, before[key]), key
    after = model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)
    # Restored even when the block fails.
    with pytest.raises(RuntimeError):
        with deactivated(model, {0: np.array([1])}):
            raise RuntimeError("boom")
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)


def test_deactivated_rejects_bad_indices_and_changes_nothing():
    model = tiny_llama()
    before = _snapshot(model)
    with pytest.raises(InputError, match="out of range"):
        with deactivated(model, {0: np.array([1]), 1: np.array([80])}):
            pass
    with pytest.raises(InputError, match="layer 3 out of range"):
        with deactivated(model, {3: np.array([1])}):
            pass
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_deactivated_neurons_have_zero_fwd_up_impact(name):
    model = MODELS[name]()
    choice = CHOICES[name]
    hooks = NeuronImpact(model, ["fwd_up"], top_k=3)
    ids, mask = left_pad(_token_lists(0, (6, 4, 9)), pad_id=0)
    try:
        on = hooks.impacts(ids, mask)["fwd_up"]
        with deactivated(model, {l: np.array(v) for l, v in choice.items()}):
            off = hooks.impacts(ids, mask)["fwd_up"]
    finally:
        hooks.close()
    for layer, rows in choice.items():
        rows = sorted(set(rows))
        assert (on[:, layer, rows] > 0).all()   # they were active before
        assert (off[:, layer, rows] == 0).all()  # exactly zero, not merely small
    # Layers before the first deactivated one see exactly the same inputs.
    first = min(choice)
    assert torch.equal(on[:, :first], off[:, :first])


def _reference_top(nags: np.ndarray, num_layers: int, k: int, per_layer: int) -> dict:
    out = {}
    for layer in range(num_layers):
        counts = Counter(nags[:, layer * k:(layer + 1) * k].ravel().tolist())
        ranked = sorted(counts, key=lambda n: (-counts[n], n))
        out[layer] = ranked[:per_layer]
    return out


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_top_target_neurons_matches_a_plain_count(power):
    rng = np.random.default_rng(3)
    L, K, N, T = 3, 4, 12, 25  # small N: many equal counts, so the tie rule matters
    nags = np.stack([np.concatenate([rng.choice(N, K, replace=False) for _ in range(L)])
                     for _ in range(T)])
    profile = TargetProfile.from_nags(nags, L, K, N, power=power)
    for per_layer in (1, 3, 7, N):
        got = top_target_neurons(profile, per_layer=per_layer)
        ref = _reference_top(nags, L, K, per_layer)
        assert {l: v.tolist() for l, v in got.items()} == ref
        assert all(v.dtype == np.int64 for v in got.values())
    # share: round(share * N) per layer, at least one.
    assert [len(v) for v in top_target_neurons(profile, share=0.25).values()] == [3, 3, 3]
    assert [len(v) for v in top_target_neurons(profile).values()] == [1, 1, 1]
    # Only neurons seen in a NAG are eligible; a layer subset selects only its layers.
    sparse = TargetProfile.from_nags(np.array([[0, 1, 2, 3]]), 2, 2, 10, layers="last")
    assert {l: v.tolist() for l, v in top_target_neurons(sparse, per_layer=5).items()} == {1: [2, 3]}
    with pytest.raises(InputError, match="not both"):
        top_target_neurons(profile, per_layer=2, share=0.1)
    with pytest.raises(InputError, match="per-layer"):
        top_target_neurons(profile, per_layer=N + 1)
    with pytest.raises(InputError, match="share"):
        top_target_neurons(profile, share=1.5)


def test_random_neurons_like_matches_counts_and_is_seeded():
    selection = {0: np.array([4, 1, 9]), 2: np.array([0]), 5: np.array([], dtype=np.int64)}
    a = random_neurons_like(selection, 50, seed=7)
    assert {l: len(v) for l, v in a.items()} == {0: 3, 2: 1, 5: 0}
    for v in a.values():
        assert len(set(v.tolist())) == len(v) and ((0 <= v) & (v < 50)).all()
    b = random_neurons_like(selection, 50, seed=7)
    assert all(np.array_equal(a[l], b[l]) for l in a)
    c = random_neurons_like({0: np.arange(20)}, 50, seed=8)
    assert not np.array_equal(random_neurons_like({0: np.arange(20)}, 50, seed=7)[0], c[0])
    # A layer's draw does not depend on the other layers present.
    assert np.array_equal(random_neurons_like({0: selection[0]}, 50, seed=7)[0], a[0])
    with pytest.raises(InputError):
        random_neurons_like({0: np.arange(5)}, 4, seed=0)


def _reference_loss(model, token_lists) -> float:
    """Each text alone, unpadded: -log p(next token), summed over all texts, then averaged."""
    total, count = 0.0, 0
    with torch.no_grad():
        for toks in token_lists:
            if len(toks) < 2:
                continue
            logits = model(input_ids=torch.tensor([toks])).logits[0].double()
            logp = torch.log_softmax(logits[:-1], dim=-1)
            total += float(-logp[torch.arange(len(toks) - 1), torch.tensor(toks[1:])].sum())
            count += len(toks) - 1
    return total / count


@pytest.mark.parametrize("name", ["llama", "qwen3"])
def test_lm_loss_equals_a_plain_reference(name):
    model = MODELS[name]()
    toks = _token_lists(5)
    ref = _reference_loss(model, toks)
    for batch_size in (1, 4):
        assert lm_loss(model, toks, pad_id=0, batch_size=batch_size) == pytest.approx(ref, rel=1e-5)
    with deactivated(model, {l: np.array(v) for l, v in CHOICES[name].items()}):
        ref_off = _reference_loss(model, toks)
        assert lm_loss(model, toks, pad_id=0, batch_size=4) == pytest.approx(ref_off, rel=1e-5)
    assert ref_off != ref
    with pytest.raises(InputError, match="2 or more tokens"):
        lm_loss(model, [[5], []], pad_id=0)


class _WordTokenizer:
    """Maps each word to a fixed id: enough tokenizer for a tiny model."""

    pad_token_id = None
    eos_token_id = 2

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[3 + sum(map(ord, w)) % 90 for w in t.split()] for t in texts]}


def test_deactivation_effect_on_a_tiny_model():
    model = tiny_qwen3()
    before = _snapshot(model)
    tok = _WordTokenizer()
    texts = ["the cat sat on the mat today", "a dog ran", "one", "many words make a longer text here"]
    neurons = {0: np.array([1, 2]), 2: np.array([5])}
    control = random_neurons_like(neurons, 72, seed=0)
    e = deactivation_effect(model, tok, texts, neurons, control, max_length=5, batch_size=2)
    toks = [ids[:5] for ids in tok(texts)["input_ids"]]
    assert e["base_loss"] == pytest.approx(_reference_loss(model, toks), rel=1e-5)
    with deactivated(model, neurons):
        assert e["nag_off_loss"] == pytest.approx(_reference_loss(model, toks), rel=1e-5)
    with deactivated(model, control):
        assert e["random_off_loss"] == pytest.approx(_reference_loss(model, toks), rel=1e-5)
    assert e["n_neurons_off"] == 3 and e["n_up_proj_neurons"] == 3 * 72 == up_proj_neuron_count(model)
    assert e["neuron_share"] == pytest.approx(3 / 216)
    assert (e["n_texts"], e["n_skipped"], e["n_predicted_tokens"]) == (3, 1, 4 + 2 + 4)
    assert e["nag_off_rel_change"] == pytest.approx((e["nag_off_loss"] - e["base_loss"]) / e["base_loss"])
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)
    with pytest.raises(InputError, match="as many neurons"):
        deactivation_effect(model, tok, texts, neurons, {0: np.array([1])})


def test_smollm2_nag_neurons_matter_more_than_random(spark, smollm2_features, shared_data):
    """The paper's analysis on real data: HellaSwag's NAG neurons vs random neurons."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from nag_spark.analysis.causal_lm import load_causal_lm
    from nag_spark.delta import read_table, table_properties
    from nag_spark.models import resolve_model_spec
    from nag_spark.tables.nag_codec import decode_nags

    props = table_properties(smollm2_features["targets"], spark)
    L, K = int(props["nag.num_layers"]), int(props["nag.top_k"])
    N = int(props["nag.n_neurons.fwd_up"])
    rows = (read_table(spark, smollm2_features["targets"])
            .filter(F.col("dataset") == "hellaswag_train").select("docid", "fwd_up").toArrow())
    profile = TargetProfile.from_nags(decode_nags(rows.column("fwd_up"), L * K, "fwd_up"), L, K, N)
    docids = sorted(rows.column("docid").to_pylist())[:16]
    docs = pq.read_table(shared_data / "targets.parquet", columns=["docid", "doc"]).to_pandas()
    texts = docs.set_index("docid").loc[docids, "doc"].tolist()

    model, tok = load_causal_lm(resolve_model_spec("smollm2-135m"))
    neurons = top_target_neurons(profile)  # the paper's share: 0.12%, 2 per layer here
    control = random_neurons_like(neurons, N, seed=0)
    e = deactivation_effect(model, tok, texts, neurons, control, max_length=64, batch_size=8)
    print(f"\nSmolLM2-135M on {e['n_texts']} HellaSwag texts ({e['n_predicted_tokens']} tokens), "
          f"{e['n_neurons_off']}/{e['n_up_proj_neurons']} up_proj neurons "
          f"({100 * e['neuron_share']:.3f}%): loss base {e['base_loss']:.4f}, "
          f"NAG off {e['nag_off_loss']:.4f} ({100 * e['nag_off_rel_change']:+.2f}%), "
          f"random off {e['random_off_loss']:.4f} ({100 * e['random_off_rel_change']:+.2f}%)")
    assert e["n_neurons_off"] == 2 * L and e["n_up_proj_neurons"] == L * N
    assert e["nag_off_loss"] > e["base_loss"]
    assert e["nag_off_rel_change"] > e["random_off_rel_change"]
