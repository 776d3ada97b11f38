"""The selection table contract: columns and properties."""
from __future__ import annotations

from nag_spark.tables.selection import (SELECTION_COLUMNS, SelectionProperties,
                                        clashing_payload, selection_columns)


def test_columns_with_and_without_the_quality_blend():
    assert selection_columns(True) == ["docid", "dataset", "token_num", "nag_distance",
                                       "quality", "combined_score", "rank", "cum_tokens"]
    assert "quality" not in selection_columns(False)
    assert "target" in SELECTION_COLUMNS


def test_payload_may_not_shadow_a_selection_column():
    assert clashing_payload(["url", "rank", "target"]) == ["rank", "target"]
    assert clashing_payload(["url"]) == []


def test_properties_carry_how_and_from_what():
    props = SelectionProperties(
        ["hellaswag", "arc_c"], 0.2, "last", 2.0, "fwd_up", ["a1", "b2"], "run9", "/pool", 4,
        dedupe=True, quality_col="q", invert_quality=True,
        pool_properties={"nag.kind": "features", "nag.model": "m", "nag.top_k": "20"},
    ).to_properties()
    assert props["nag.kind"] == "selection"            # ours, not the pool's kind
    assert props["nag.target"] == "hellaswag,arc_c"
    assert props["nag.profile_digest"] == "a1,b2"
    assert props["nag.dedupe"] == "true" and props["nag.invert_quality"] == "true"
    assert props["nag.model"] == "m" and props["nag.top_k"] == "20"
    plain = SelectionProperties(["t"], 0.5, "all", 1.0, "fwd_up", ["d"], "r", "/p", 0).to_properties()
    assert "nag.quality_col" not in plain and plain["nag.dedupe"] == "false"


def test_profile_levers_are_their_own_keys_beside_the_features_k():
    props = SelectionProperties(["t"], 0.2, "last", 2.0, "fwd_up", ["d"], "r", "/p", 0,
                                pool_properties={"nag.top_k": "20"}, profile_weighting="tfidf",
                                score_top_k=5).to_properties()
    assert props["nag.profile_weighting"] == "tfidf" and props["nag.score_top_k"] == "5"
    assert props["nag.top_k"] == "20"  # the features' K is still the pool's
    plain = SelectionProperties(["t"], 0.5, "all", 1.0, "fwd_up", ["d"], "r", "/p", 0).to_properties()
    assert "nag.profile_weighting" not in plain and "nag.score_top_k" not in plain
