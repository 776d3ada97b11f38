"""The cheap second opinions: a normalised Kneser-Ney bigram, DSIR's hashed n-gram KL."""
from __future__ import annotations

import numpy as np

from nag_spark.evaluate.dsir_kl import dsir_kl, hashed_counts, kl_divergence
from nag_spark.evaluate.ngram import BigramKN, ngram_loss


def test_bigram_distributions_sum_to_one():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 12, size=300)
    m = BigramKN.fit(ids, vocab_size=15)  # ids 12..14 never seen
    for v in range(15):
        p = np.exp(m.logprobs(np.full(15, v), np.arange(15)))
        assert abs(p.sum() - 1) < 1e-9 and (p > 0).all()


def test_bigram_prefers_text_like_its_training():
    rng = np.random.default_rng(2)
    cycle = np.tile(np.arange(10), 50)
    noise = rng.integers(0, 10, size=500)
    windows = [cycle[i:i + 20] for i in range(0, 200, 20)]
    assert ngram_loss(cycle, windows, 10) < ngram_loss(noise, windows, 10) - 1.0


def test_dsir_kl_is_lower_for_matching_text():
    news = ["Stocks fell sharply on Monday as markets reacted to the rate decision."] * 5
    story = ["The girl ran to the garden and picked a red flower for her mother."] * 5
    same = ["Markets and stocks fell on the rate decision, traders said on Monday."]
    assert dsir_kl(same, news) < dsir_kl(same, story)
    c = hashed_counts(news)
    assert c.shape == (10_000,) and c.sum() > 0 and kl_divergence(c, c) == 0.0
