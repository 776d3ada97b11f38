"""Exact selection by token budget (DESIGN.md §1), sequentially and in distributable pieces.

The definition: order rows by ``(key, docid)`` ascending (``key`` is ``nag_distance``, or
the blended score), take ``budget = floor(fraction × Σ token_num)`` and keep the longest
prefix whose cumulative ``token_num`` is ≤ budget; if even the first row exceeds it, keep
the first row. :func:`select_by_token_budget` is that definition, written plainly
(:mod:`.budget`).

The distributed algorithm never sorts the pool. Its pieces live here so that they are
tested on arrays and reused unchanged by the Spark driver:

1. a token-weighted histogram of the key (:func:`key_bin_stats`, mergeable per partition)
   finds the bin where the cumulative tokens first exceed the budget
   (:func:`crossing_bin`); every bin below it is kept whole, every bin above it dropped
   (:mod:`.bins`);
2. only that boundary bin's rows are ordered exactly (:func:`cut_sorted_rows`); when it
   holds too many rows it is refined by a finer histogram over its own key range, and a
   bin of one repeated key is split on ``docid`` with sampled splitters
   (:func:`find_cutoff`, driven through a :class:`BoundaryBackend`; :mod:`.boundary`);
3. the result is a :class:`Cutoff` in ``(key, docid)`` order, a predicate any worker
   evaluates row by row;
4. ``rank`` and ``cum_tokens`` of the kept rows come from the histogram's per-bin counts and
   tokens plus a local sort inside groups of whole bins (:func:`plan_rank_groups`,
   :class:`RankAssigner`; :mod:`.ranks`): exact, with no global sort and no
   single-partition window.

:mod:`.arrays` runs those steps on in-memory partitions, :mod:`.histogram` turns the first
histogram into what a run reports, and :mod:`.variants` holds the quality blend and the
multi-target mixture.

Examples
--------
>>> from nag_spark.kernels.selection import select_by_token_budget, select_partitioned
>>> key, docid, tokens = [0.4, 0.1, 0.3, 0.2], ["d", "a", "c", "b"], [3, 3, 3, 3]
>>> select_by_token_budget(key, docid, tokens, 0.5).order.tolist()
[1, 3]
>>> select_partitioned(key, docid, tokens, 0.5, n_partitions=2).order.tolist()
[1, 3]
"""
from .arrays import ArrayBackend, select_partitioned
from .bins import BinStats, bin_index, crossing_bin, docid_bucket, key_bin_stats
from .boundary import (DEFAULT_BINS, DEFAULT_MAX_BOUNDARY_ROWS, KEEP_ALL, BoundaryBackend,
                       BoundaryResult, Cutoff, cut_sorted_rows, find_cutoff)
from .budget import Selection, check_fraction, key_order, select_by_token_budget, token_budget
from .histogram import FirstHistogram
from .ranks import RankAssigner, RankPlan, plan_rank_groups
from .variants import blend_quality, minmax_normalise, select_multi_target, split_fraction

__all__ = [
    "ArrayBackend", "select_partitioned",
    "BinStats", "bin_index", "crossing_bin", "docid_bucket", "key_bin_stats",
    "DEFAULT_BINS", "DEFAULT_MAX_BOUNDARY_ROWS", "KEEP_ALL", "BoundaryBackend",
    "BoundaryResult", "Cutoff", "cut_sorted_rows", "find_cutoff",
    "Selection", "check_fraction", "key_order", "select_by_token_budget", "token_budget",
    "FirstHistogram",
    "RankAssigner", "RankPlan", "plan_rank_groups",
    "blend_quality", "minmax_normalise", "select_multi_target", "split_fraction",
]
