"""``embedding``: cosine to the target centroid with the bundled all-MiniLM-L6-v2 ranks
cooking documents first, paraphrases without the target's words included."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np

from nag_spark.spark.select import SelectOptions, run_selection
from nag_spark.spark.select.embedding import centroid, embed, encoder, model_path
from select_fixtures import make_docs, make_targets, read_selection, write_parquet


def test_ranks_semantically_close_documents_first(spark, tmp_path):
    docs, targets = make_docs(), make_targets()
    run_selection(spark, SelectOptions(method="embedding", target="dataset=cooking_train",
                                       pool_docs=write_parquet(docs, tmp_path / "p.parquet"),
                                       target_docs=write_parquet(targets, tmp_path / "t.parquet"),
                                       output=str(tmp_path / "out"), fraction=1.0, track=False))
    sel, _ = read_selection(tmp_path / "out")
    close = sel.dataset.isin(["cooking", "cooking_paraphrase"])
    assert close.iloc[:close.sum()].all()  # every cooking document before any other one
    # Scores are the cosine to the centroid, recomputed here on the driver.
    model = encoder(model_path())
    c = centroid(embed(model, targets.sort_values("docid").doc.tolist(), 32))
    want = np.round(embed(model, sel.doc_text if "doc_text" in sel else
                          docs.set_index("docid").doc.reindex(sel.docid).tolist(), 32) @ c, 6)
    np.testing.assert_allclose(sel.score.to_numpy(), want, atol=2e-6)
