"""``bm25``: the target examples as BM25 queries against the pool (package ``bm25s``).

A document's score is the mean over the target queries ``q`` of ``BM25(q, d)``, in
``bm25s``'s default Lucene variant with its tokenizer (lower case, ``\\b\\w\\w+\\b``,
English stop words) and its ``k1 = 1.5``, ``b = 0.75``. The mean is computed exactly and
without enumerating the queries: BM25 is a sum over query tokens, so

    mean_q BM25(q, d) = (1/|Q|) Σ_t c(t) · idf(t) · tf(t, d) / (tf(t, d) + k1 (1 - b + b |d| / avgdl))

with ``c(t)`` the occurrences of term ``t`` in all queries together. The corpus
statistics are the pool's, as in a BM25 index of the pool: document count, ``avgdl`` and the
document frequency of every query term come from one Spark aggregation (no fitted
approximation), ``idf`` from ``bm25s.scoring``. The tests check the scores against a
``bm25s.BM25`` index of the pool queried with every target example.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .texts import score_texts, sum_counts

_DOCS, _LENGTH = -1, -2  # keys of the pool's document count and total length


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """``bm25s``'s tokens of each text (English stop words removed, no progress bar)."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


def query_terms(target_texts: Sequence[str]) -> tuple[dict[str, int], np.ndarray, int]:
    """``(vocabulary, c, n_queries)``: an id per query term and its occurrences ``c`` over all
    target queries (repeats count, as ``bm25s`` sums a repeated query token twice)."""
    vocab: dict[str, int] = {}
    counts: list[int] = []
    for tokens in tokenize(target_texts):
        for t in tokens:
            i = vocab.setdefault(t, len(vocab))
            if i == len(counts):
                counts.append(0)
            counts[i] += 1
    return vocab, np.asarray(counts, np.float64), len(target_texts)


def _make_counter(vocab):
    def counter(texts):
        df: dict[int, int] = {}
        length = 0
        for tokens in tokenize(texts):
            length += len(tokens)
            for i in {vocab[t] for t in tokens if t in vocab}:
                df[i] = df.get(i, 0) + 1
        keys = list(df) + [_DOCS, _LENGTH]
        return np.asarray(keys, np.int64), np.asarray(list(df.values()) + [len(texts), length], np.int64)
    return counter


def _make_scorer(fitted):
    vocab, weight, avgdl, k1, b = fitted

    def scorer(texts):
        out = np.zeros(len(texts), np.float64)
        for i, tokens in enumerate(tokenize(texts)):
            tf: dict[int, int] = {}
            for t in tokens:
                j = vocab.get(t)
                if j is not None:
                    tf[j] = tf.get(j, 0) + 1
            if tf:
                ids = np.fromiter(sorted(tf), np.int64)
                f = np.asarray([tf[j] for j in ids.tolist()], np.float64)
                norm = k1 * ((1.0 - b) + b * len(tokens) / avgdl)
                out[i] = float((weight[ids] * f / (f + norm)).sum())
        return out
    return scorer


def score_pool(pool_df, keep_cols: Sequence[str], target_texts: Sequence[str], opts):
    """``(scored frame, method params)``: pool statistics in one aggregation, then scores."""
    from bm25s.scoring import _select_idf_scorer

    vocab, c, n_queries = query_terms(target_texts)
    stats = sum_counts(pool_df, _make_counter, vocab)
    n_docs, total = stats.pop(_DOCS, 0), stats.pop(_LENGTH, 0)
    avgdl = total / n_docs if n_docs and total else 1.0
    idf_of = _select_idf_scorer("lucene")
    idf = np.zeros(len(vocab), np.float64)
    for i, df in stats.items():
        idf[i] = idf_of(df, N=n_docs)
    # Terms no pool document holds have df 0 and never score: their idf stays 0.
    weight = c * idf / max(n_queries, 1)
    params = {"bm25_k1": opts.bm25_k1, "bm25_b": opts.bm25_b, "bm25_variant": "lucene",
              "bm25_query_terms": len(vocab), "bm25_avgdl": round(avgdl, 4)}
    return score_texts(pool_df, keep_cols, _make_scorer,
                       (vocab, weight, avgdl, float(opts.bm25_k1), float(opts.bm25_b))), params
