"""Ranking: target profile → distributed scoring → exact token-budget selection.

:func:`run_ranking` is the library entry point used by ``jobs/rank.py``, the demo and the
notebooks. Its steps (DESIGN.md §1, docs/CONTRACT.md), one module each:

1. :mod:`.plan` — check the options and both tables (lineage properties, columns) before
   any Spark job, and pin the versions read: a frozen :class:`~.plan.RankingPlan`;
2. :mod:`.profiles` — build each target's :class:`~nag_spark.kernels.profile.TargetProfile`
   on the driver from the (small) target features (their first ``--top-k`` indices per
   layer); a contrastive ``--profile-weighting`` first counts the pool's neurons in one
   aggregation (:mod:`.pool_frequencies`);
3. :mod:`.scoring` — score the pool with ``mapInArrow`` (one pass over the NAGs, profiles
   broadcast), keep the scores on disk;
4. :mod:`.pool` — one aggregation: pool size, tokens, bad token counts, key bounds;
5. :mod:`.multi_target`, :mod:`.quality`, :mod:`.selection` — per target, the order key
   (distance or quality blend) and the exact selection by token budget with histograms,
   no global sort;
6. :mod:`.run` — write the selection Delta table, count what it holds
   (:mod:`.composition`) and record the MLflow run (kind ``rank``) through
   :mod:`nag_spark.tracking.rank_run`.

:class:`RankOptions` are frozen; :class:`RankResult` says what a run did.
"""
from .options import RankOptions, RankResult, TargetOutcome
from .run import run_ranking

__all__ = ["RankOptions", "RankResult", "TargetOutcome", "run_ranking"]
