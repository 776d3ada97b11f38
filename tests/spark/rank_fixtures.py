"""Synthetic features tables for the ranking tests (written with the Delta layer)."""
from __future__ import annotations

import numpy as np
import pandas as pd

L, K, N = 4, 3, 16

LINEAGE = {"nag.kind": "features", "nag.model": "synthetic", "nag.model_digest": "abc",
           "nag.architecture": "Toy", "nag.num_layers": str(L), "nag.top_k": str(K),
           "nag.max_length": "120", "nag.dtype": "float32", "nag.neuron_types": "fwd_up",
           "nag.n_neurons.fwd_up": str(N), "nag.version": "0.1.0"}


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
                   partitions: int = 3) -> str:
    from pyspark.sql import types as T

    from nag_spark.delta import write_table

    schema = T.StructType([
        T.StructField("docid", T.StringType()), T.StructField("dataset", T.StringType()),
        T.StructField("token_num", T.LongType()), T.StructField("n_tokens", T.IntegerType()),
        T.StructField("fwd_up", T.ArrayType(T.ShortType())),
        T.StructField("quality", T.DoubleType())])
    rows = [(r.docid, r.dataset, None if pd.isna(r.token_num) else int(r.token_num),
             int(r.n_tokens), [int(v) for v in r.fwd_up], float(r.quality))
            for r in pdf.itertuples()]
    df = spark.createDataFrame(rows, schema).repartition(partitions)
    write_table(df, path, mode="overwrite", properties=dict(LINEAGE, **(props or {})))
    return path
