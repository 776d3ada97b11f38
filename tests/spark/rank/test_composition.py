"""What each target selected (spark/rank/composition.py)."""
from __future__ import annotations

from nag_spark.spark.rank import TargetOutcome
from nag_spark.spark.rank.composition import counted


def test_counted_fills_in_docs_and_tokens_without_touching_the_outcomes():
    outcomes = [TargetOutcome("a", "dataset in (x)", 5, "d1", 100),
                TargetOutcome("b", "dataset in (y)", 7, "d2", 100)]
    tokens = {"a": {"web": 40, "<none>": 9}, "b": {}}
    got = counted(outcomes, tokens, {"a": 3, "b": 0})
    assert [(o.selected_docs, o.selected_tokens) for o in got] == [(3, 49), (0, 0)]
    assert outcomes[0].selected_docs == 0  # the given outcomes are left as they were
    assert got[0].boundary is None and got[1].profile_digest == "d2"
