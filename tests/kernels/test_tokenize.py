"""Prefix tokenization gives exactly the first ``max_length`` tokens of full tokenization:
on every document of the shared real data (news, forums, books, Wikipedia, web, QA, code,
several scripts) with the real SmolLM2 tokenizer, and on texts built to be hard."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from nag_spark.kernels.tokenize import prefix_token_ids, prefix_windows, safe_cut


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    from transformers import AutoTokenizer

    from nag_spark.models import local_model_dir, resolve_model_spec

    return AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec("smollm2-135m"))))


def _full(tokenizer, texts, max_length):
    return [ids[:max_length] for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


@pytest.mark.parametrize("name", ["pool", "targets"])
def test_equal_to_full_tokenization_on_all_shared_data(smollm2_tokenizer, shared_data, name):
    texts = [t for t in pq.read_table(shared_data / f"{name}.parquet", columns=["doc"])
             .column("doc").to_pylist() if t]
    assert len(texts) > 40_000
    assert prefix_token_ids(smollm2_tokenizer, texts, 120) == _full(smollm2_tokenizer, texts, 120)


def test_short_windows_cut_often_and_stay_exact(smollm2_tokenizer, shared_data):
    texts = [t for t in pq.read_table(shared_data / "pool.parquet", columns=["doc"])
             .column("doc").to_pylist()[:3000] if t]
    # One character per token forces cuts and window doubling on nearly every document.
    got = prefix_token_ids(smollm2_tokenizer, texts, 24, chars_per_token=1)
    assert got == _full(smollm2_tokenizer, texts, 24)


HARD = [
    "x" * 5000,                                        # one pre-token, no boundary at all
    "def f(x):\n    return {'a': [1, 2, 3]}\n" * 80,   # code: indentation, brackets
    "東京都は日本の首都であり、" * 200,                    # no spaces (CJK)
    "Привет, мир! " * 300 + "конец",                   # Cyrillic
    "mixed\u00a0nbsp\tand\ttabs  double  spaces " * 100,
    "emoji 🙂🙃 sequences 👩‍👩‍👧 and accents é́ " * 120,
    "a" * 700 + " " + "b" * 700,                       # one boundary, far from the window end
    "   leading spaces then words " * 100,
]


@pytest.mark.parametrize("max_length", [1, 7, 120])
def test_hard_texts(smollm2_tokenizer, max_length):
    assert (prefix_token_ids(smollm2_tokenizer, HARD, max_length, chars_per_token=2)
            == _full(smollm2_tokenizer, HARD, max_length))


def test_cuts_only_between_non_whitespace():
    text = "one two  three\tfour"
    for limit in range(len(text) + 2):
        cut = safe_cut(text, limit)
        assert cut <= limit
        if cut:
            assert text[cut].isspace() and not text[cut - 1].isspace() and not text[cut + 1].isspace()
    assert prefix_windows(["", "abc"], 2) == ["", "abc"]
