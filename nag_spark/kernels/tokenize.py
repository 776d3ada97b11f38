"""Tokenizing only the prefix of a document that can hold its first ``max_length`` tokens.

A web document can be thousands of words long, but NAG keeps only its first
``max_length`` tokens (DESIGN.md §1). Tokenizing the whole text and truncating afterwards
makes a 5,000-word speech cost forty times a 120-token one. Here each text is cut, before
tokenization, at a *safe boundary* past which nothing can change the tokens before it:
a single whitespace character between two non-whitespace characters. Regex pre-tokenizers
(GPT-2/SmolLM2, Llama 3, Qwen) and SentencePiece's Metaspace never merge across such a
position — the whitespace starts the next piece — so the tokens of ``text[:cut]`` are
exactly the leading tokens of ``text``. When the prefix holds fewer than ``max_length``
tokens the window doubles, up to the whole text, so the result is always exact;
``tests/kernels/test_tokenize.py`` checks it against full tokenization on every document
of the shared real data (long documents, text without spaces, code, non-Latin scripts).
"""
from __future__ import annotations

import re
from typing import Sequence

# A whitespace character between two non-whitespace ones: the cut goes before it.
_BOUNDARY = re.compile(r"(?<=\S)\s(?=\S)")
# Characters per token of the first window; English runs at ~4.5, so one window is enough
# for nearly every document, and a script with more tokens per character gets more windows.
CHARS_PER_TOKEN = 8
# How far back from the window's end a boundary is looked for before searching it all.
_LOOKBACK = 256


def safe_cut(text: str, limit: int) -> int:
    """The largest safe boundary ``j <= limit`` (``text[:j]`` tokenizes as a prefix), or 0.

    Examples
    --------
    >>> safe_cut("one two three", 9)
    7
    >>> safe_cut("one  two", 8), safe_cut("nospaceshere", 12)
    (0, 0)
    """
    limit = min(limit, len(text) - 1)
    if limit <= 0:
        return 0
    start = max(0, limit - _LOOKBACK)
    for lo in (start, 0):
        last = 0
        for m in _BOUNDARY.finditer(text, lo, limit + 1):
            last = m.start()
        if last:
            return last
        if lo == 0:
            break
    return 0


def prefix_windows(texts: Sequence[str], chars: int) -> list[str]:
    """Each text cut at its last safe boundary within ``chars`` characters (whole when short).

    >>> prefix_windows(["a b c d e", "short"], 4)
    ['a b', 'short']
    """
    out = []
    for t in texts:
        if len(t) <= chars:
            out.append(t)
            continue
        cut = safe_cut(t, chars)
        out.append(t[:cut] if cut else t)  # no boundary: only the whole text is safe
    return out


def prefix_token_ids(tokenizer, texts: Sequence[str], max_length: int,
                     chars_per_token: int = CHARS_PER_TOKEN) -> list[list[int]]:
    """The first ``max_length`` token ids of each text (no special tokens), tokenizing
    only a prefix that provably holds them.

    Parameters
    ----------
    tokenizer : a Hugging Face tokenizer (callable on a list of strings)
    texts : sequence of str
    max_length : int
    chars_per_token : int
        Size of the first window, in characters per wanted token.

    Returns
    -------
    list of list of int
        Equal to ``[ids[:max_length] for ids in tokenizer(texts)["input_ids"]]``.
    """
    result: list[list[int] | None] = [None] * len(texts)
    pending = list(range(len(texts)))
    chars = max(1, max_length * chars_per_token)
    while pending:
        windows = prefix_windows([texts[i] for i in pending], chars)
        ids = tokenizer(windows, add_special_tokens=False)["input_ids"]
        again = []
        for i, window, tokens in zip(pending, windows, ids):
            if len(tokens) >= max_length or len(window) == len(texts[i]):
                result[i] = list(tokens[:max_length])
            else:
                again.append(i)  # the window held too few tokens: look further
        pending, chars = again, chars * 2
    return result  # type: ignore[return-value]


def token_counts(tokenizer, texts: Sequence[str]) -> list[int]:
    """Full token counts (for inputs without ``token_num``: the whole text is tokenized,
    which costs as much as tokenizing every document in full)."""
    return [len(t) for t in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
