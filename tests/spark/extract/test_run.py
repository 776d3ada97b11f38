"""run_extraction end to end.

- SmolLM2-135M on real documents: the session's fixed-sample features tables are real Delta
  tables with the features contract (docs/CONTRACT.md);
- on separate executor JVMs (``local-cluster``): one model load per Python worker, reused
  across jobs.
"""
from __future__ import annotations

import collections
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from deltalake import DeltaTable

from conftest import run_job
from nag_spark.tables.nag_codec import index_rows


def test_smollm2_features_are_real_delta_tables(smollm2_features):
    pool = DeltaTable(smollm2_features["pool"])
    props = pool.metadata().configuration
    assert props["nag.kind"] == "features"
    assert props["nag.model"] == "smollm2-135m"
    assert props["nag.model_digest"].startswith("sha256:")
    assert props["nag.architecture"] == "LlamaForCausalLM"
    assert (props["nag.num_layers"], props["nag.top_k"], props["nag.max_length"]) == ("30", "20", "120")
    assert props["nag.neuron_types"] == "fwd_up" and props["nag.n_neurons.fwd_up"] == "1536"

    df = pool.to_pandas()
    assert list(df.columns) == ["docid", "dataset", "token_num", "n_tokens", "fwd_up"]
    assert df["docid"].is_unique and len(df) >= 250
    assert df["dataset"].nunique() >= 15
    feats = np.stack(index_rows(df["fwd_up"], 30 * 20, "fwd_up"))
    assert feats.shape == (len(df), 30 * 20) and feats.dtype.kind in "iu"
    assert feats.min() >= 0 and feats.max() < 1536
    # K distinct neurons per layer.
    per_layer = feats.reshape(len(df), 30, 20)
    assert all(len(set(row)) == 20 for row in per_layer.reshape(-1, 20)[:500])
    assert (df["n_tokens"] <= 120).all() and (df["n_tokens"] > 0).all()
    assert (df["n_tokens"] <= df["token_num"].clip(lower=1) + 200).all()

    schema = pq.read_schema(next(p for p in pool.file_uris()))
    # Packed, 11 bits per index for N = 1536 (tables/nag_codec.py); a fixture cached by a
    # checkout from before NAGs were packed holds array<short>.
    assert str(schema.field("fwd_up").type) in ("binary", "list<element: int16>")
    if str(schema.field("fwd_up").type) == "binary":
        assert {len(v) for v in df["fwd_up"]} == {30 * 20 * 11 // 8}


def test_smollm2_target_features(smollm2_features):
    df = DeltaTable(smollm2_features["targets"]).to_pandas()
    assert sorted(df["dataset"].unique()) == ["arc_c_train", "hellaswag_train"]
    assert df.groupby("dataset").size().to_dict() == {"arc_c_train": 80, "hellaswag_train": 80}


def test_two_executors_one_model_load_per_worker(tmp_path, shared_data):
    pool = pd.read_parquet(shared_data / "pool.parquet").head(12)
    pool.to_parquet(tmp_path / "docs.parquet", index=False)
    log = tmp_path / "loads.tsv"
    proc = run_job(["tests/spark/extract/scripts/extract_cluster_job.py", "--input", str(tmp_path / "docs.parquet"),
                    "--out", str(tmp_path / "out"), "--load-log", str(log)], timeout=600)
    assert re.search(r"RUN 1 DOCS 12 VERSION", proc.stdout), proc.stdout + proc.stderr[-3000:]
    assert "EXECUTORS 2" in proc.stdout
    loads = collections.Counter(line.split("\t")[0] for line in log.read_text().splitlines())
    # Two executors x one worker each; each loaded the model once although it ran several
    # tasks of two chunks in each of two jobs.
    assert len(loads) == 2 and set(loads.values()) == {1}, loads
    for i in range(2):
        df = DeltaTable(str(tmp_path / "out" / f"run{i}")).to_pandas()
        assert sorted(df["docid"]) == sorted(pool["docid"])
    a = DeltaTable(str(tmp_path / "out" / "run0")).to_pandas().set_index("docid")
    b = DeltaTable(str(tmp_path / "out" / "run1")).to_pandas().set_index("docid")
    assert all(np.array_equal(a.loc[d, "fwd_up"], b.loc[d, "fwd_up"]) for d in a.index)
