"""Token streams for the proxy: each selection's text as SmolLM2 token ids, cut to exactly N.

The equal-token guarantee lives here. Each selection's documents, in selection order
(``rank``, then ``target``, then ``docid``), are tokenized without special tokens, each
followed by one separator token (EOS), and concatenated into one stream. Every selection
then trains on exactly ``N`` tokens of its stream:

- ``N`` is ``--tokens`` when given, else the shortest selection's stream; either way it is
  rounded down to a multiple of the proxy's sequence length, so the stream packs into
  ``N / seq_len`` full sequences and every selection gets the same number of optimizer
  steps (the same schedule).
- A selection whose stream is shorter than ``N`` is refused (``short="refuse"``, the
  default) or its stream is repeated from its start until it has ``N`` tokens
  (``short="repeat"``; its result records ``passes`` > 1).

Rank order means the cut keeps a selection's best-ranked documents: what a smaller budget
of the same selector would have kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..errors import InputError

SHORT_RULES = ("refuse", "repeat")
# Texts tokenized per call: large enough to use the fast tokenizer's batching.
_BATCH = 256


def token_stream(tokenizer, texts: Iterable[str], sep_id: int, limit: int | None = None):
    """The token ids of ``texts`` joined by ``sep_id`` (one after every text).

    Parameters
    ----------
    tokenizer : transformers tokenizer
    texts : iterable of str
        In stream order.
    sep_id : int
        Separator appended after each text.
    limit : int, optional
        Stop tokenizing once the stream holds at least ``limit`` tokens.

    Returns
    -------
    ids : ndarray of int64
    docs : int
        Texts that contributed to the stream.
    """
    parts: list[np.ndarray] = []
    total = docs = 0
    batch: list[str] = []

    def flush():
        nonlocal total, docs
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            if limit is not None and total >= limit:
                break
            parts.append(np.asarray(list(ids) + [sep_id], dtype=np.int64))
            total += len(ids) + 1
            docs += 1
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= _BATCH:
            flush()
            if limit is not None and total >= limit:
                break
    if batch and (limit is None or total < limit):
        flush()
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return ids, docs


@dataclass(frozen=True)
class EqualTokens:
    """Every selection's training tokens: exactly ``n`` each."""

    n: int
    streams: dict[str, np.ndarray]
    available: dict[str, int]

    def passes(self, label: str) -> float:
        """How many times the selection's stream is used (1.0 unless repeated)."""
        return self.n / min(self.n, self.available[label]) if self.available[label] else 0.0


def equal_tokens(streams: Mapping[str, np.ndarray], seq_len: int, tokens: int | None = None,
                 short: str = "refuse") -> EqualTokens:
    """Cut (or repeat) every stream to the same ``N`` tokens, a multiple of ``seq_len``.

    Parameters
    ----------
    streams : dict of label -> ndarray
        Each selection's full token stream (or at least its first ``tokens`` tokens).
    seq_len : int
        Proxy sequence length.
    tokens : int, optional
        ``N``; default the shortest stream's length.
    short : {"refuse", "repeat"}
        What to do with a stream shorter than ``N``.

    Raises
    ------
    InputError
        ``N`` smaller than one sequence; a short stream with ``short="refuse"``.

    Examples
    --------
    >>> e = equal_tokens({"a": np.arange(10), "b": np.arange(7)}, seq_len=3)
    >>> e.n, e.streams["a"].tolist(), e.streams["b"].tolist()
    (6, [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5])
    >>> equal_tokens({"a": np.arange(4)}, 2, tokens=6, short="repeat").streams["a"].tolist()
    [0, 1, 2, 3, 0, 1]
    """
    if short not in SHORT_RULES:
        raise InputError(f"--short must be one of {', '.join(SHORT_RULES)}, got {short!r}")
    if not streams:
        raise InputError("no selection to evaluate")
    available = {k: int(len(v)) for k, v in streams.items()}
    wanted = int(tokens) if tokens else min(available.values())
    n = (wanted // seq_len) * seq_len
    if n < seq_len:
        raise InputError(f"{'--tokens ' + str(tokens) if tokens else 'the shortest selection'} "
                         f"gives {wanted} training tokens, fewer than one proxy sequence "
                         f"({seq_len} tokens)")
    out = {}
    for label, ids in streams.items():
        if len(ids) >= n:
            out[label] = np.ascontiguousarray(ids[:n])
        elif short == "repeat" and len(ids):
            out[label] = np.resize(ids, n)  # cyclic: the stream again from its start
        else:
            raise InputError(
                f"selection {label} has {len(ids)} proxy tokens, fewer than the {n} every "
                "selection trains on; lower --tokens, or pass --short repeat to repeat its text")
    return EqualTokens(n=n, streams=out, available=available)


def eval_windows(texts_ids: Sequence[Sequence[int]], sep_id: int, seq_len: int) -> list[np.ndarray]:
    """Each eval text as windows of at most ``seq_len`` ids, every text token predicted once.

    A text becomes ``[sep] + ids``; window ``k`` starts where window ``k - 1`` ended (its
    first id is the last id of the previous window, used only as context), so each text
    token is a prediction target exactly once and the context restarts at window edges.
    Texts are scored on their own: no window holds two texts.

    >>> [w.tolist() for w in eval_windows([[5, 6, 7, 8]], sep_id=0, seq_len=3)]
    [[0, 5, 6], [6, 7, 8]]
    """
    out = []
    for ids in texts_ids:
        seq = np.asarray([sep_id, *ids], dtype=np.int64)
        start = 0
        while start < len(seq) - 1:
            out.append(seq[start:start + seq_len])
            start += seq_len - 1
    return out
