"""A cheap second opinion: DSIR's hashed n-gram KL between the eval texts and a selection.

Both sides are featurized with the ``data_selection`` package's own featurizer
(:func:`data_selection.hashed_ngram_dsir.get_ngram_counts`: lowercased WordPunct words,
unigrams and bigrams hashed into 10,000 buckets, DSIR's defaults). The counts are summed
per side, smoothed with ``alpha`` per bucket, and ``KL(eval || selection)`` is reported in
nats: lower means the selection's n-gram distribution covers the eval texts better.
The selection side is the text of the documents that make up its ``N`` training tokens.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

NUM_BUCKETS = 10_000
NGRAMS = 2


def hashed_counts(texts: Iterable[str], num_buckets: int = NUM_BUCKETS, n: int = NGRAMS) -> np.ndarray:
    """Summed hashed n-gram counts of ``texts`` (DSIR's featurizer)."""
    from data_selection.hashed_ngram_dsir import get_ngram_counts

    counts = np.zeros(num_buckets, dtype=np.int64)
    for text in texts:
        get_ngram_counts(text, n=n, num_buckets=num_buckets, counts=counts)
    return counts


def kl_divergence(p_counts: np.ndarray, q_counts: np.ndarray, alpha: float = 1.0) -> float:
    """``KL(p || q)`` in nats of two count vectors, each smoothed with ``alpha`` per bucket.

    >>> a = np.array([10, 0, 5]); kl_divergence(a, a)
    0.0
    >>> kl_divergence(a, np.array([0, 10, 5])) > 0
    True
    """
    p = (p_counts + alpha) / (p_counts.sum() + alpha * len(p_counts))
    q = (q_counts + alpha) / (q_counts.sum() + alpha * len(q_counts))
    return float(np.sum(p * (np.log(p) - np.log(q))))


def dsir_kl(eval_texts: Iterable[str], selection_texts: Iterable[str]) -> float:
    """``KL(eval || selection)`` of DSIR's hashed n-gram distributions (see module doc)."""
    return kl_divergence(hashed_counts(eval_texts), hashed_counts(selection_texts))
