"""What a rank run records (tracking/rank_run.py), from plain result objects: no Spark."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from nag_spark.kernels.selection import FirstHistogram, key_bin_stats
from nag_spark.tracking.rank_run import QUANTILES, distance_histogram, rank_metrics


def _hist(seed):
    key = np.random.default_rng(seed).uniform(0.2, 0.8, 100)
    stats = key_bin_stats(key, np.ones(100), 0.2, 0.8, 64)
    return FirstHistogram(stats, 0.2, 0.8, 64, {"web": stats.counts.copy()}, {"web": 100})


def _target(name, docs):
    return SimpleNamespace(name=name, n_target_rows=7, budget=20, boundary=0.4, boundary_rows=3,
                           refinement_rounds=1, selected_docs=docs, selected_tokens=docs * 2)


def _result(*targets):
    return SimpleNamespace(pool_docs=100, pool_tokens=100, excluded_target_rows=9,
                           targets=list(targets), timings={"total": 1.5})


def test_one_target_metrics_have_no_suffix():
    m = rank_metrics(_result(_target("hellaswag", 10)), [_hist(1)])
    assert m["selected_docs"] == 10 and m["selected_tokens"] == 20
    assert m["pool_excluded_target_docs"] == 9 and m["time_total_s"] == 1.5
    assert m["boundary"] == 0.4 and "selected_docs.hellaswag" not in m
    assert {f"distance_q{int(round(q * 100)):02d}" for q in QUANTILES} <= set(m)
    assert 0.2 <= m["distance_q01"] <= m["distance_q50"] <= m["distance_q99"] <= 0.8


def test_several_targets_are_suffixed_and_summed():
    m = rank_metrics(_result(_target("a", 3), _target("b", 4)), [_hist(1), _hist(2)])
    assert m["selected_docs"] == 7 and m["selected_docs.a"] == 3 and m["selected_tokens.b"] == 8
    assert "distance_q50.b" in m and "distance_q50" not in m


def test_distance_histogram_json():
    one = distance_histogram([_target("a", 1)], [_hist(1)], "nag_distance")
    assert set(one) == {"edges", "counts", "key", "boundary"} and one["boundary"] == {"a": 0.4}
    # Trimmed to the bins from the first to the last non-empty one, at most 64.
    assert len(one["edges"]) == len(one["counts"]["web"]) + 1 <= 65
    two = distance_histogram([_target("a", 1), _target("b", 1)], [_hist(1), _hist(2)],
                             "combined_score")
    assert two["key"] == "combined_score" and set(two["by_target"]) == {"a", "b"}
    assert two["counts"] == one["counts"]  # the first target's histogram of the whole pool


def test_inline_target_names_give_metric_names_mlflow_accepts():
    from mlflow.utils.validation import _validate_metric_name

    names = ["dataset=books", "dataset=web,source=cc", "a/b", "hellaswag"]
    m = rank_metrics(_result(*(_target(n, 2) for n in names)), [_hist(i) for i in range(4)])
    for key in m:
        _validate_metric_name(key)  # raises on '=', ',' and path-like names
    assert m["selected_docs.dataset_books"] == 2 and m["selected_docs.hellaswag"] == 2
    assert len([k for k in m if k.startswith("boundary.")]) == 4  # no name overwrote another
