"""Synthetic features tables for the ranking tests (written with the Delta layer) and the
sequential pandas reference the distributed ranking must equal.

Imported by basename: each test module puts this folder on ``sys.path``. The pools have few
distinct neurons, so distances tie a lot; small ``n_bins``/``max_boundary_rows`` (``FAST``)
force histogram refinement and docid splitting.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nag_spark.kernels.profile import TargetProfile
from nag_spark.kernels.scoring import ProfileScorer
from nag_spark.tables.features import FeaturesLineage

L, K, N = 4, 3, 16

# What extraction writes for such a table (the features table contract, tables/features.py).
LINEAGE = FeaturesLineage(model="synthetic", model_digest="abc", architecture="Toy",
                          num_layers=L, top_k=K, max_length=120, dtype="float32",
                          neuron_types=("fwd_up",), n_neurons={"fwd_up": N},
                          library_version="0.1.0").to_properties()

TARGETS = {"hellaswag": "hellaswag_train", "arc_c": "arc_c_train"}
FAST = dict(n_bins=4, max_boundary_rows=5, rows_per_group=40)


def synthetic_pool(n: int, seed: int, n_values: int = 4) -> pd.DataFrame:
    """Docs whose NAGs draw from few neurons, so many distances tie exactly."""
    rng = np.random.default_rng(seed)
    nags = np.stack([np.concatenate([rng.choice(n_values, K, replace=False) for _ in range(L)])
                     for _ in range(n)]).astype(np.int16)
    datasets = np.array(["web", "books", "code", "hellaswag_train", "arc_c_train"])
    return pd.DataFrame({
        "docid": [f"doc-{i:05d}" for i in rng.permutation(n)],
        "dataset": datasets[rng.choice(5, n, p=[0.5, 0.2, 0.1, 0.1, 0.1])],
        "token_num": rng.integers(0, 60, n).astype(np.int64),
        "n_tokens": np.minimum(rng.integers(0, 60, n), 120).astype(np.int32),
        "fwd_up": list(nags),
        "quality": rng.choice([0.1, 0.5, 0.9], n),
    })


def write_features(spark, pdf: pd.DataFrame, path: str, props: dict | None = None,
                   partitions: int = 3, layout: str = "list") -> str:
    """``layout``: ``list`` (``array<short>``, tables of earlier releases) or a packed kind
    such as ``bits4`` (``binary``, what extraction writes now)."""
    from pyspark.sql import types as T

    from nag_spark.delta import write_table
    from nag_spark.tables.nag_codec import encode_nags

    packed = layout != "list"
    schema = T.StructType([
        T.StructField("docid", T.StringType()), T.StructField("dataset", T.StringType()),
        T.StructField("token_num", T.LongType()), T.StructField("n_tokens", T.IntegerType()),
        T.StructField("fwd_up", T.BinaryType() if packed else T.ArrayType(T.ShortType())),
        T.StructField("quality", T.DoubleType())])
    nags = (encode_nags(np.stack(pdf.fwd_up.to_numpy()), np.ones(len(pdf), bool), layout)
            .to_pylist() if packed else [[int(v) for v in a] for a in pdf.fwd_up])
    rows = [(r.docid, r.dataset, None if pd.isna(r.token_num) else int(r.token_num),
             int(r.n_tokens), nag, float(r.quality))
            for r, nag in zip(pdf.itertuples(), nags)]
    df = spark.createDataFrame(rows, schema).repartition(partitions)
    write_table(df, path, mode="overwrite", properties=dict(LINEAGE, **(props or {})))
    return path


def read_delta(path) -> pd.DataFrame:
    from deltalake import DeltaTable

    return DeltaTable(str(path)).to_pandas()


def reference(pool: pd.DataFrame, target: pd.DataFrame, names, fraction, layers="all",
              quality=False, invert=False, dedupe=False) -> pd.DataFrame:
    """Sequential spec: profile per target, distances, sort by (key, docid), budget prefix."""
    used = [TARGETS[n] for n in names]
    excluded = pool[~pool.dataset.isin(used)] if target is pool else pool
    nags = np.stack(excluded.fwd_up.to_numpy())
    frac = fraction / len(names)
    out, seen = [], set()
    for name in names:
        tn = np.stack(target[target.dataset == TARGETS[name]].fwd_up.to_numpy())
        prof = TargetProfile.from_nags(tn, L, K, N, layers)
        df = excluded[["docid", "dataset", "token_num"]].copy()
        df["nag_distance"] = ProfileScorer(prof).distance(nags)
        key = "nag_distance"
        if quality:
            d, q = df.nag_distance, excluded.quality
            qn = (q - q.min()) / (q.max() - q.min())
            df["combined_score"] = (d - d.min()) / (d.max() - d.min()) + (1.0 - qn if invert else qn)
            key = "combined_score"
        df = df.sort_values([key, "docid"]).reset_index(drop=True)
        budget = int(np.floor(frac * df.token_num.sum()))
        cum = df.token_num.cumsum()
        n = max(1, int((cum <= budget).sum()))
        sel = df.iloc[:n].assign(rank=np.arange(1, n + 1), cum_tokens=cum.iloc[:n].to_numpy(),
                                 target=name)
        if dedupe:
            keep = ~sel.docid.isin(seen)
            seen.update(sel.docid)
            sel = sel[keep]
        out.append(sel)
    return pd.concat(out)


def assert_same_selection(got: pd.DataFrame, want: pd.DataFrame, key="nag_distance"):
    got = got.sort_values(["target", "rank"]).reset_index(drop=True)
    want = want.sort_values(["target", "rank"]).reset_index(drop=True)
    assert got.docid.tolist() == want.docid.tolist()
    assert got["rank"].tolist() == want["rank"].tolist()
    assert got.cum_tokens.tolist() == want.cum_tokens.tolist()
    assert got.target.tolist() == want.target.tolist()
    assert np.array_equal(got[key].to_numpy(), want[key].to_numpy())  # bit for bit


@pytest.fixture(scope="module")
def pool(spark, tmp_path_factory):
    """A 400-document synthetic pool in three files: ``(pandas frame, table path)``."""
    pdf = synthetic_pool(400, seed=11)
    path = str(tmp_path_factory.mktemp("rank") / "pool")
    write_features(spark, pdf, path, partitions=3)
    return pdf, path
