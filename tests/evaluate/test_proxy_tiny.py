"""The tiny proxy: exact adaptive softmax, determinism for a seed, and a loss that tells
matching text from unrelated text (real shared-data text, SmolLM2 tokens)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from nag_spark.evaluate.proxy_tiny import TinyConfig, build_tiny, frequency_ranks
from nag_spark.evaluate.tokens import eval_windows, equal_tokens, token_stream
from nag_spark.evaluate.training import Schedule, score, train_and_score

SMALL = TinyConfig(hidden=64, intermediate=128, cutoffs=(500, 4000))
SCHED = Schedule(seq_len=64, batch=8, lr=3e-3)


@pytest.fixture(scope="module")
def data(shared_data):
    from transformers import AutoTokenizer

    from nag_spark.models import local_model_dir, resolve_model_spec

    tok = AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec("smollm2-135m"))))
    pool = pd.read_parquet(shared_data / "pool.parquet")
    code = pool[pool.dataset == "code_mbpp"].sort_values("docid").doc.tolist()
    news = pool[pool.dataset == "news_agnews"].sort_values("docid").doc.tolist()
    streams = {"code": token_stream(tok, code[:300], 0, limit=12000)[0],
               "news": token_stream(tok, news[:300], 0, limit=12000)[0]}
    eq = equal_tokens(streams, SCHED.seq_len, tokens=8192)
    rank, seen = frequency_ranks(eq.streams.values(), len(tok))
    ev = {name: [rank[w] for w in eval_windows(tok(texts[-40:], add_special_tokens=False)["input_ids"],
                                               0, SCHED.seq_len)]
          for name, texts in (("code", code), ("news", news))}
    return {"vocab": len(tok), "seen": seen, "train": {k: rank[v] for k, v in eq.streams.items()},
            "eval": ev}


def test_head_is_an_exact_distribution_over_the_vocabulary():
    torch.manual_seed(0)
    m = build_tiny(6000, 300, 16, SMALL, seed=0).eval()
    h = torch.randn(3, 64)
    logp = m.head.log_prob(h)
    assert logp.shape == (3, 6000)
    assert torch.allclose(logp.exp().sum(1), torch.ones(3), atol=1e-4)
    # the body is small next to a full 64 x 49152 output layer
    assert sum(p.numel() for p in m.head.parameters()) < 0.2 * 64 * 49152


def test_same_seed_same_loss_other_seed_other_loss(data):
    def run(seed):
        m = build_tiny(data["vocab"], data["seen"], SCHED.seq_len, SMALL, seed)
        return train_and_score(m, data["train"]["news"][:2048], seed, {"news": data["eval"]["news"]},
                               SCHED).loss["news"]

    a, b, c = run(0), run(0), run(1)
    assert a == b and a != c


def test_loss_is_lower_on_text_like_the_training_text(data):
    losses = {}
    for train in ("code", "news"):
        m = build_tiny(data["vocab"], data["seen"], SCHED.seq_len, SMALL, seed=0)
        out = train_and_score(m, data["train"][train], 0, data["eval"], SCHED)
        assert out.steps == 8192 // 64 // 8
        losses[train] = out.loss
    # each eval set is predicted better by the proxy trained on its own source
    assert losses["code"]["code"] < losses["news"]["code"] - 0.2
    assert losses["news"]["news"] < losses["code"]["news"] - 0.2


def test_untrained_loss_is_near_log_vocab(data):
    m = build_tiny(data["vocab"], data["seen"], SCHED.seq_len, SMALL, seed=0).eval()
    nats, count = score(m, data["eval"]["news"])
    assert abs(nats / count - np.log(data["vocab"])) < 1.5
