"""The smollm2-135m proxy on CPU: a couple of training steps on tiny input change the
weights, the loss is the model's own, and every training starts from the loaded weights."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from nag_spark.evaluate.training import Schedule, score, train_and_score


def test_two_steps_on_cpu_then_fresh_restores(shared_data):
    from nag_spark.evaluate.proxy_smollm2 import SmolLM2Proxy
    from nag_spark.evaluate.tokens import eval_windows, token_stream

    start = time.perf_counter()
    proxy = SmolLM2Proxy(device="cpu")
    tok = proxy.tokenizer
    text = ["The quick brown fox jumps over the lazy dog near the quiet river bank."] * 12
    ids, _ = token_stream(tok, text, tok.eos_token_id)
    sched = Schedule(seq_len=32, batch=2, lr=1e-5)
    stream = ids[:128]
    windows = eval_windows(tok(text[:2], add_special_tokens=False)["input_ids"], tok.eos_token_id, 32)
    model = proxy.fresh(0)
    before_nats, n = score(model, windows)
    w0 = model.model.model.layers[0].mlp.up_proj.weight.detach().clone()
    out = train_and_score(model, stream, 0, {"x": windows}, sched)
    if time.perf_counter() - start > 60:
        pytest.skip("smollm2-135m is too slow on this CPU for a unit test (>60 s)")
    assert out.steps == 2 and np.isfinite(out.loss["x"])
    # a real pretrained model: far below log(vocab) on plain English before any training
    assert before_nats / n < 0.6 * np.log(len(tok))
    assert not torch.equal(w0, model.model.model.layers[0].mlp.up_proj.weight)
    again = proxy.fresh(1)
    assert torch.equal(w0, again.model.model.layers[0].mlp.up_proj.weight)
