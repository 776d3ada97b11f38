"""Baseline selectors: random, DSIR, BM25 and sentence embeddings, token-budgeted exactly
like NAG ranking, so their selections can be evaluated side by side.

:func:`run_selection` is the library entry point used by ``jobs/select.py``. Its steps:

1. :mod:`.docs` — read and check the pool and target text tables as extraction reads its
   input, collect the target examples on the driver (``conf/targets.yaml`` filters);
2. one module per method — fit what the method needs on the driver (DSIR's target n-gram
   distribution, the BM25 query terms, the embedding centroid) plus, for DSIR and BM25, one
   Spark aggregation of pool statistics (:func:`.texts.sum_counts`), then score every pool
   document in ``mapInArrow`` with the fit broadcast (:func:`.texts.score_texts`):
   :mod:`.seeded_random`, :mod:`.dsir`, :mod:`.bm25`, :mod:`.embedding`;
3. :mod:`.run` — the order key, ranking's exact token-budget selection, the Delta write and
   the MLflow run (kind ``select``, :mod:`nag_spark.tracking.select_run`).

:class:`SelectOptions` are frozen; :class:`SelectResult` says what a run did.
"""
from .options import METHODS, SelectOptions, SelectResult
from .run import run_selection

__all__ = ["METHODS", "SelectOptions", "SelectResult", "run_selection"]
