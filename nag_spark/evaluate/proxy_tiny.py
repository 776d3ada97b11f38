"""The ``tiny`` proxy: a small random-init Llama body with an exact adaptive softmax.

With SmolLM2's 49,152-token vocabulary a full output layer would hold most of a tiny
model's parameters and FLOPs. Instead the head is :class:`torch.nn.AdaptiveLogSoftmaxWithLoss`
over token ids sorted by frequency (the most frequent ids in a full-width head cluster,
rarer ids in narrower tail clusters). It is still an exact, normalised distribution over the
whole vocabulary, so every eval token, seen in training or not, gets an honest loss.

The frequency order is counted once over the training streams of all selections of a run
(:func:`frequency_ranks`), so every selection trains the same architecture with the same
clusters; it decides only which ids share a cluster, never a probability.

The input embedding is compact: one row per id seen in those training streams plus one
shared ``<unk>`` row for every other id (an id never seen in training would only ever
read an untrained random row). This cuts the embedding's gradient and optimizer work by
about 3x; the output side keeps the full vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch


@dataclass(frozen=True)
class TinyConfig:
    """Shape of the tiny proxy (defaults: about 0.6M body parameters, 2 layers)."""

    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 512
    cutoffs: tuple[int, ...] = (2000, 10000)
    div_value: float = 4.0


def frequency_ranks(streams: Iterable[np.ndarray], vocab_size: int) -> tuple[np.ndarray, int]:
    """``rank[id]``: the position of ``id`` by descending frequency over ``streams``
    (ties and unseen ids by id), so ``rank[ids]`` are the ids the proxy uses; and the
    number of distinct ids seen.

    >>> rank, seen = frequency_ranks([np.array([3, 3, 1, 3, 1, 0])], 5)
    >>> rank.tolist(), seen
    ([2, 1, 3, 0, 4], 3)
    """
    counts = np.zeros(vocab_size, dtype=np.int64)
    for s in streams:
        counts += np.bincount(s, minlength=vocab_size)[:vocab_size]
    order = np.lexsort((np.arange(vocab_size), -counts))  # most frequent first, then by id
    rank = np.empty(vocab_size, dtype=np.int64)
    rank[order] = np.arange(vocab_size)
    return rank, int((counts > 0).sum())


def build_tiny(vocab_size: int, seen: int, seq_len: int, cfg: TinyConfig, seed: int):
    """A fresh :class:`TinyLM` initialised from ``seed``."""
    torch.manual_seed(seed)
    return TinyLM(vocab_size, seen, seq_len, cfg)


class TinyLM(torch.nn.Module):
    """``LlamaModel`` body + adaptive softmax head; ids are frequency ranks.

    Parameters
    ----------
    vocab_size : int
        Output vocabulary (the tokenizer's).
    seen : int
        Ids (frequency ranks) ``< seen`` get their own input row; the rest share ``<unk>``.
    seq_len : int
        Longest sequence (position table).
    cfg : TinyConfig
    """

    def __init__(self, vocab_size: int, seen: int, seq_len: int, cfg: TinyConfig):
        from transformers import LlamaConfig, LlamaModel

        super().__init__()
        self.unk = min(int(seen), vocab_size - 1)
        config = LlamaConfig(vocab_size=self.unk + 1, hidden_size=cfg.hidden,
                             intermediate_size=cfg.intermediate, num_hidden_layers=cfg.layers,
                             num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
                             max_position_embeddings=seq_len, tie_word_embeddings=False)
        config._attn_implementation = "sdpa"
        self.body = LlamaModel(config)
        cutoffs = [c for c in cfg.cutoffs if c < vocab_size - 1]
        self.head = torch.nn.AdaptiveLogSoftmaxWithLoss(cfg.hidden, vocab_size, cutoffs,
                                                        div_value=cfg.div_value)

    def target_logprobs(self, ids, mask):
        """Log-probability of each next token where ``mask`` holds (flattened)."""
        hidden = self.body(input_ids=ids.clamp(max=self.unk)).last_hidden_state[:, :-1]
        keep = mask[:, 1:]
        return self.head(hidden[keep], ids[:, 1:][keep]).output
