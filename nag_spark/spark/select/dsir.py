"""``dsir``: importance weights of hashed n-grams (Xie et al. 2023, package ``data-selection``).

Features are those of ``data_selection.hashed_ngram_dsir.get_ngram_counts``: the text is
lower-cased, split by NLTK's ``WordPunctTokenizer``, and its unigrams and bigrams are hashed
(SHA-256) into 10,000 buckets. The target distribution ``p_target`` is counted on the driver
from the (small) target rows; the pool distribution ``p_pool`` is one Spark aggregation
over the pool. The log weight of bucket ``j`` is ``log(p_target[j] + 1e-8) -
log(p_pool[j] + 1e-8)``, exactly as the package computes it.

A document's score is the mean of its n-grams' log weights (default), or their sum
(``dsir_length_norm=False``, the package's ``importance_estimator``). The mean is the
default because the selection here is a token budget, not DSIR's resampling with its
100-word minimum: most n-grams of a pool document are commoner in the pool than in the
target, so the sum is a negative number growing with length, and the top of the sum's
order is the shortest documents (the probe of issue 12 measured it worse than random).
The mean measures how target-like a document's text is, whatever its length.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .texts import score_texts, sum_counts

SMOOTHING = 1e-8  # the package's own constant

# Per Python worker: the bucket of each n-gram already hashed (words repeat a lot).
_BUCKETS: dict[tuple[int, str], int] = {}
_MAX_MEMO = 2_000_000


class NgramFeaturizer:
    """The package's hashed n-gram features, as sparse ``(buckets, counts)`` per text.

    Equal to ``get_ngram_counts(text, n, num_buckets)`` (tested), with each n-gram's hash
    memoised per worker.
    """

    def __init__(self, ngrams: int = 2, num_buckets: int = 10000):
        from data_selection.hashed_ngram_dsir import wpt

        self.n, self.buckets, self.tokenize = int(ngrams), int(num_buckets), wpt.tokenize

    def _bucket(self, gram: str) -> int:
        from data_selection.hashed_ngram_dsir import hash_buckets

        key = (self.buckets, gram)
        b = _BUCKETS.get(key)
        if b is None:
            b = hash_buckets(gram, num_buckets=self.buckets)
            if len(_BUCKETS) < _MAX_MEMO:
                _BUCKETS[key] = b
        return b

    def grams(self, text: str) -> np.ndarray:
        """The bucket of every n-gram of ``text`` (with repeats)."""
        words = self.tokenize(text.lower())
        out = [self._bucket(w) for w in words]
        for i in range(2, self.n + 1):
            out += [self._bucket(" ".join(words[j:j + i])) for j in range(len(words) - i + 1)]
        return np.asarray(out, np.int64)

    def counts(self, texts: Sequence[str]) -> np.ndarray:
        """Dense bucket counts summed over ``texts``."""
        total = np.zeros(self.buckets, np.int64)
        for t in texts:
            total += np.bincount(self.grams(t), minlength=self.buckets)
        return total


def log_weights(target_counts: np.ndarray, pool_counts: np.ndarray) -> np.ndarray:
    """The package's log importance weight per bucket."""
    pt = target_counts / max(target_counts.sum(), 1)
    pp = pool_counts / max(pool_counts.sum(), 1)
    return np.log(pt + SMOOTHING) - np.log(pp + SMOOTHING)


def _make_counter(cfg):
    feats = NgramFeaturizer(*cfg)

    def counter(texts):
        c = feats.counts(texts)
        nz = np.flatnonzero(c)
        return nz, c[nz]
    return counter


def _make_scorer(fitted):
    (ngrams, buckets), weights, length_norm = fitted
    feats = NgramFeaturizer(ngrams, buckets)

    def scorer(texts):
        out = np.zeros(len(texts), np.float64)
        for i, t in enumerate(texts):
            g = feats.grams(t)
            if len(g):
                s = float(weights[g].sum())  # = log_weights · counts, in one fixed order
                out[i] = s / len(g) if length_norm else s
        return out
    return scorer


def score_pool(pool_df, keep_cols: Sequence[str], target_texts: Sequence[str], opts):
    """``(scored frame, method params)``: fit both n-gram distributions, then score."""
    cfg = (int(opts.dsir_ngrams), int(opts.dsir_buckets))
    target_counts = NgramFeaturizer(*cfg).counts(target_texts)
    pool = sum_counts(pool_df, _make_counter, cfg)
    pool_counts = np.zeros(cfg[1], np.int64)
    for k, n in pool.items():
        pool_counts[k] = n
    weights = log_weights(target_counts, pool_counts)
    params = {"dsir_length_norm": bool(opts.dsir_length_norm), "dsir_ngrams": cfg[0],
              "dsir_buckets": cfg[1], "dsir_target_ngrams": int(target_counts.sum()),
              "dsir_pool_ngrams": int(pool_counts.sum())}
    return score_texts(pool_df, keep_cols, _make_scorer,
                       (cfg, weights, bool(opts.dsir_length_norm))), params
