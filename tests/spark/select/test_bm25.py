"""``bm25``: the mean BM25 of the target queries equals a ``bm25s`` index of the pool
queried with every target example, and picks the lexically close documents."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np

from nag_spark.spark.select import SelectOptions, run_selection
from select_fixtures import make_docs, make_targets, read_selection, write_parquet


def test_scores_equal_a_bm25s_index_of_the_pool(spark, tmp_path):
    import bm25s

    docs, targets = make_docs(), make_targets()
    run_selection(spark, SelectOptions(method="bm25", target="dataset=cooking_train", track=False,
                                       pool_docs=write_parquet(docs, tmp_path / "p.parquet"),
                                       target_docs=write_parquet(targets, tmp_path / "t.parquet"),
                                       output=str(tmp_path / "out"), fraction=1.0))
    sel, props = read_selection(tmp_path / "out")
    retriever = bm25s.BM25()  # k1 1.5, b 0.75, Lucene: the defaults used here
    retriever.index(bm25s.tokenize(docs.doc.tolist(), stopwords="en", show_progress=False),
                    show_progress=False)
    queries = bm25s.tokenize(targets.doc.tolist(), stopwords="en", return_ids=False, show_progress=False)
    want = np.mean([retriever.get_scores(q) for q in queries], axis=0)
    got = sel.set_index("docid").score.reindex(docs.docid).to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # bm25s scores in float32
    assert props["nag.bm25_variant"] == "lucene"


def test_picks_lexically_close_documents(spark, tmp_path):
    docs = make_docs()
    run_selection(spark, SelectOptions(method="bm25", target="dataset=cooking_train", track=False,
                                       pool_docs=write_parquet(docs, tmp_path / "p.parquet"),
                                       target_docs=write_parquet(make_targets(), tmp_path / "t.parquet"),
                                       output=str(tmp_path / "out"), fraction=0.15))
    sel, _ = read_selection(tmp_path / "out")
    assert len(sel) >= 3 and set(sel.dataset) == {"cooking"}
