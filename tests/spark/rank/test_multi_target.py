"""Several targets in one run (spark/rank/multi_target.py): each keeps fraction / M, with
the quality blend, a layer subset, --dedupe, payload columns, and the run it records."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from rank_fixtures import FAST, TARGETS, assert_same_selection, pool, read_delta, reference  # noqa: E402,F401

from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402


def test_multi_target_quality_layers_dedupe_and_tracking(spark, pool, tmp_path, mlflow_uri):
    import mlflow

    pdf, path = pool
    out = str(tmp_path / "sel")
    res = run_ranking(spark, RankOptions(
        targets=["hellaswag", "arc_c"], pool=path, output=out, fraction=0.4, layers="0,2",
        quality_col="quality", invert_quality=True, dedupe=True, payload_cols=("n_tokens",),
        experiment="rank-tests", **FAST))
    got = read_delta(out)
    want = reference(pdf, pdf, ["hellaswag", "arc_c"], 0.4, layers="0,2", quality=True,
                     invert=True, dedupe=True)
    assert_same_selection(got, want, key="combined_score")
    assert {"quality", "combined_score", "n_tokens"} <= set(got.columns)
    assert not got.docid.duplicated().any()

    from nag_spark.delta import table_properties

    props = table_properties(out)
    assert props["nag.kind"] == "selection" and props["nag.target"] == "hellaswag,arc_c"
    assert props["nag.layers"] == "0,2" and props["nag.mlflow_run_id"] == res.run_id
    assert props["nag.model"] == "synthetic" and props["nag.pool_table"] == path
    run = mlflow.get_run(res.run_id)
    assert run.data.tags["nag.kind"] == "rank"
    assert run.data.tags["nag.output_version"] == str(res.output_version)
    assert run.data.params["layers"] == "0,2" and run.data.params["model"] == "synthetic"
    m = run.data.metrics
    assert m["pool_docs"] == len(pdf[~pdf.dataset.isin(TARGETS.values())])  # both targets used
    assert m["selected_docs"] == len(got) and "distance_q50.arc_c" in m and "time_total_s" in m
    client = mlflow.MlflowClient()
    arts = {a.path for d in ("profile", "plots", "stats") for a in client.list_artifacts(res.run_id, d)}
    assert {"profile/profile.npz", "plots/profile_heatmap.png", "plots/distance_hist.png",
            "plots/composition.png", "stats/distance_hist.json", "stats/composition.json"} <= arts
    local = Path(client.download_artifacts(res.run_id, "stats"))
    hist = json.loads((local / "distance_hist.json").read_text())
    comp = json.loads((local / "composition.json").read_text())
    assert len(hist["edges"]) == len(next(iter(hist["counts"].values()))) + 1
    assert set(hist["boundary"]) == {"hellaswag", "arc_c"}
    assert comp["selected"]["arc_c"] == got[got.target == "arc_c"].groupby("dataset").token_num.sum().to_dict()
    inputs = {i.dataset.name for i in run.inputs.dataset_inputs}
    assert {"pool", "selection"} <= inputs
