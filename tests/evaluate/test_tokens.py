"""The equal-token guarantee: every selection trains on exactly N tokens, N a multiple of
the sequence length; a short selection is refused or repeated; eval windows score every
text token once."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.errors import InputError
from nag_spark.evaluate.tokens import equal_tokens, eval_windows, token_stream


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from nag_spark.models import local_model_dir, resolve_model_spec

    return AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec("smollm2-135m"))))


def test_stream_joins_texts_with_one_separator_each(tokenizer):
    texts = ["The cat sat.", "A dog ran far away.", "Birds."]
    ids, docs = token_stream(tokenizer, texts, sep_id=0)
    own = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert docs == 3 and ids.tolist() == [i for o in own for i in (*o, 0)]
    cut, used = token_stream(tokenizer, texts * 400, sep_id=0, limit=50)
    assert len(cut) >= 50 and used < 1200 and len(cut) - len(own[used % 3 - 1]) - 1 < 50


def test_every_selection_gets_exactly_n_tokens():
    rng = np.random.default_rng(0)
    streams = {f"s{i}": rng.integers(0, 100, size=n) for i, n in enumerate((1000, 731, 5000))}
    e = equal_tokens(streams, seq_len=64)
    assert e.n == 704  # the shortest (731) rounded down to a multiple of 64
    assert {len(v) for v in e.streams.values()} == {704}
    for k, v in e.streams.items():  # the prefix of each stream, nothing invented
        assert np.array_equal(v, streams[k][:704])
    e2 = equal_tokens(streams, seq_len=64, tokens=500)
    assert e2.n == 448 and all(len(v) == 448 for v in e2.streams.values())


def test_short_selection_is_refused_or_repeated():
    streams = {"long": np.arange(1000), "short": np.arange(300)}
    with pytest.raises(InputError, match=r"selection short has 300 proxy tokens, fewer than the 640"):
        equal_tokens(streams, seq_len=64, tokens=640)
    e = equal_tokens(streams, seq_len=64, tokens=640, short="repeat")
    assert len(e.streams["short"]) == 640 and e.passes("short") == pytest.approx(640 / 300)
    assert np.array_equal(e.streams["short"][300:600], np.arange(300))
    assert e.passes("long") == 1.0
    with pytest.raises(InputError, match="fewer than one proxy sequence"):
        equal_tokens({"a": np.arange(50)}, seq_len=64)


def test_eval_windows_predict_every_token_once():
    texts = [list(range(1, 11)), [7], list(range(20, 45))]
    w = eval_windows(texts, sep_id=0, seq_len=8)
    assert all(len(x) <= 8 for x in w)
    predicted = sum(len(x) - 1 for x in w)
    assert predicted == sum(len(t) for t in texts)
    assert w[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7] and w[1].tolist() == [7, 8, 9, 10]
