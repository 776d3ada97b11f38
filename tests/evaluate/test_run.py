"""run_evaluation on real rank selections of real text: equal tokens for every selection,
the overlap refusals, the JSON document, per-target units."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_fixtures import eval_selections  # noqa: E402,F401

from nag_spark.errors import InputError  # noqa: E402
from nag_spark.evaluate import EvaluateOptions  # noqa: E402
from nag_spark.evaluate.run import run_evaluation  # noqa: E402

FAST = dict(seeds=2, seq_len=64, batch=4, track=False)


def opts(sel, **kw):
    base = dict(selections=(sel["sel_a"], sel["sel_b"]), pool_docs=sel["docs"], eval_docs=sel["eval"],
                eval_filters=("dataset=hellaswag_val",), **FAST)
    base.update(kw)
    return EvaluateOptions(**base)


def test_two_selections_train_on_equal_tokens_and_write_json(spark, eval_selections, tmp_path):
    out = tmp_path / "res" / "eval.json"
    res = run_evaluation(spark, opts(eval_selections, output_json=str(out)))
    doc = json.loads(out.read_text())
    rows = doc["results"]
    assert [r["selection"] for r in rows] == [eval_selections["sel_a"], eval_selections["sel_b"]]
    for r in rows:
        assert {"selection", "eval", "loss_mean", "loss_std", "train_tokens", "seeds", "target",
                "ngram_loss", "dsir_kl"} <= set(r)
        assert r["eval"] == "dataset=hellaswag_val" and r["target"] == "hellaswag"
        assert r["seeds"] == 2 and len(r["losses"]) == 2 and r["loss_std"] > 0
        assert 0 < r["loss_mean"] < 12 and r["ngram_loss"] > 0 and r["dsir_kl"] > 0
        assert r["eval_docs"] == 24 and r["passes"] == 1.0
    # one N for all, a multiple of the sequence length, the smaller selection's stream
    assert rows[0]["train_tokens"] == rows[1]["train_tokens"] == res.train_tokens
    assert res.train_tokens % 64 == 0
    assert rows[0]["selection_docs_used"] <= rows[1]["selection_docs_used"]


def test_tokens_beyond_a_selection_are_refused_or_repeated(spark, eval_selections):
    with pytest.raises(InputError, match=r"fewer than the 640000 every selection trains on.*--short repeat"):
        run_evaluation(spark, opts(eval_selections, tokens=640000, seeds=1))
    res = run_evaluation(spark, opts(eval_selections, selections=(eval_selections["sel_a"],),
                                     tokens=64 * 200, short="repeat", seeds=1))
    assert res.train_tokens == 12800 and res.results[0]["passes"] > 1


def test_eval_texts_from_the_target_split_are_refused(spark, eval_selections):
    # hellaswag_train built the profile: evaluating on it must fail, naming counts
    with pytest.raises(InputError, match=r"eval set dataset=hellaswag_train is not held out from "
                                         r"the targets of .*: 16 share a docid .* and 16 share "
                                         r"their normalised text"):
        run_evaluation(spark, opts(eval_selections, eval_filters=("dataset=hellaswag_train",)))


def test_eval_texts_in_the_selection_are_refused(spark, eval_selections, tmp_path):
    import pandas as pd

    # a renamed copy of two selected pool docs: caught by text, not by docid
    chosen = pd.read_parquet(eval_selections["docs"])
    from deltalake import DeltaTable

    sel_ids = DeltaTable(eval_selections["sel_a"]).to_pandas().docid.tolist()[:2]
    leaked = chosen[chosen.docid.isin(sel_ids)].assign(docid=lambda d: "copy/" + d.docid,
                                                       dataset="leak_val",
                                                       doc=lambda d: d.doc.str.upper())
    ev = pd.concat([pd.read_parquet(eval_selections["eval"]), leaked])
    ev.to_parquet(tmp_path / "eval.parquet", index=False)
    with pytest.raises(InputError, match=r"not held out from selection .*sel_a: 2 share their "
                                         r"normalised text"):
        run_evaluation(spark, opts(eval_selections, eval_docs=str(tmp_path / "eval.parquet"),
                                   eval_filters=("dataset=leak_val",)))


def test_target_rows_missing_from_target_docs_is_refused(spark, eval_selections, tmp_path):
    import pandas as pd

    # a target table without hellaswag_train: the held-out check cannot be made
    ev = pd.read_parquet(eval_selections["eval"])
    ev[ev.dataset == "hellaswag_val"].to_parquet(tmp_path / "val_only.parquet", index=False)
    with pytest.raises(InputError, match=r"cannot check the eval texts against the targets .*"
                                         r"dataset in \(hellaswag_train\); pass --target-docs"):
        run_evaluation(spark, opts(eval_selections, target_docs=str(tmp_path / "val_only.parquet")))


def test_bad_options_are_named(spark, eval_selections):
    with pytest.raises(InputError, match="--seeds"):
        run_evaluation(spark, opts(eval_selections, seeds=0))
    with pytest.raises(InputError, match="--target nope: selection .* has targets hellaswag"):
        run_evaluation(spark, opts(eval_selections, target="nope"))
