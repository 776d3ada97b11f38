"""The console summary of a comparison."""
from __future__ import annotations

import numpy as np
import pandas as pd

from nag_spark.tracking.compare.rank_runs import RankRun
from nag_spark.tracking.compare.summary import MAX_PAIRS_SHOWN, summary_text
from nag_spark.tracking.compare.tables import side_by_side


def test_many_pairs_are_counted_not_listed():
    labels = [f"r{i}" for i in range(6)]  # 15 pairs
    runs = [RankRun(f"{x}000000", x, x, "e", {}, {}, {}, "/t", 0) for x in labels]
    sel = pd.DataFrame({"docids": [1] * 6, "tokens": [1000] * 6}, index=labels)
    comp = pd.DataFrame({x: [1.0] for x in labels}, index=["web"])
    text = summary_text(runs, sel, np.eye(6), np.eye(6), comp, side_by_side({x: {} for x in labels}))
    assert f"; ... {15 - MAX_PAIRS_SHOWN} more pairs" in text
    assert "Parameters that differ: none" in text and "1,000 tokens" in text
    assert "vs the pool" not in text  # no pool column, no over/under-representation lines
