"""The NAG map: bounded deterministic sampling in Spark, sparse NAG vectors, a 2-D embedding."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.errors import ConfigError, InputError
from nag_spark.visualize import dataset_quotas, embed, nag_map, nag_matrix, sample_features

L, K, N = 4, 3, 50


def _features(spark, sizes: dict[str, int], seed: int = 0, prefix: str = ""):
    """Synthetic NAGs: each dataset favours its own neurons, so clusters are expected."""
    rng = np.random.default_rng(seed)
    rows = []
    for d, (name, n) in enumerate(sizes.items()):
        favoured = rng.choice(N, size=(L, 6), replace=False)
        for i in range(n):
            nag = [rng.choice(favoured[l], K, replace=False) for l in range(L)]
            rows.append((f"{prefix}{name}/{i}", name, [int(x) for x in np.concatenate(nag)]))
    return spark.createDataFrame(rows, "docid string, dataset string, fwd_up array<short>")


def test_quotas_water_fill():
    assert dataset_quotas({"a": 10, "b": 3}, per_dataset=5, max_points=100) == {"a": 5, "b": 3}
    q = dataset_quotas({"a": 1000, "b": 1000, "c": 2}, per_dataset=500, max_points=102)
    assert q == {"a": 50, "b": 50, "c": 2}
    with pytest.raises(ConfigError):
        dataset_quotas({"a": 1}, per_dataset=0, max_points=1)


def test_nag_matrix_layout():
    m = nag_matrix([[1, 2, 0, 3], [1, 1, 4, 0]], num_layers=2, n_neurons=5)
    assert m.shape == (2, 10)
    # layer 1 entries are shifted by N = 5; a repeated index stays a single one.
    assert sorted(m[0].indices.tolist()) == [1, 2, 5, 8]
    assert m[1].toarray().ravel().tolist() == [0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    with pytest.raises(InputError, match="does not split into 3 layers"):
        nag_matrix([[1, 2, 3, 4]], num_layers=3)


def test_sample_is_bounded_and_deterministic(spark):
    df = _features(spark, {"big": 600, "small": 7, "mid": 80})
    a = sample_features(df.repartition(5), "fwd_up", per_dataset=40, max_points=70, seed=3)
    b = sample_features(df.repartition(2), "fwd_up", per_dataset=40, max_points=70, seed=3)
    assert len(a) <= 70
    counts = a.dataset.value_counts().to_dict()
    assert counts["small"] == 7 and counts["big"] <= 40 and counts["mid"] <= 40
    # Same seed, other partitioning: the same documents.
    assert a.docid.tolist() == b.docid.tolist()
    with pytest.raises(InputError, match="no column 'att_q'"):
        sample_features(df, "att_q", per_dataset=5, max_points=5, seed=0)


def test_embed_pca_and_tsne():
    rng = np.random.default_rng(0)
    m = nag_matrix([rng.choice(N, L * K) for _ in range(40)], num_layers=L, n_neurons=N)
    xy, used = embed(m, method="pca")
    assert used == "pca" and xy.shape == (40, 2)
    xy, used = embed(m, method="tsne", tsne_iter=250, seed=1)
    assert used == "tsne" and xy.shape == (40, 2) and np.isfinite(xy).all()
    with pytest.raises(ConfigError, match="unknown embedding method"):
        embed(m, method="mds")


def test_nag_map_logs_a_visualize_run(spark, tmp_path, mlflow_uri):
    import mlflow

    pool = _features(spark, {"web": 120, "wiki": 60, "code": 30})
    targets = _features(spark, {"hellaswag_train": 40, "arc_c_train": 40}, seed=1, prefix="t/")
    result = nag_map(spark, pool, targets, output_dir=tmp_path, num_layers=L, n_neurons=N,
                     target_filter=("dataset", ["hellaswag_train"]), per_dataset=30,
                     max_points=90, seed=0, method="tsne", tsne_iter=250, experiment="viz-test")
    pts = result.points
    assert len(pts) <= 90 and set(pts.columns) >= {"docid", "dataset", "is_target", "x", "y"}
    assert set(pts[pts.is_target].dataset) == {"hellaswag_train"}
    assert (tmp_path / "nag_map.png").is_file() and (tmp_path / "nag_map_points.csv").is_file()
    run = mlflow.MlflowClient(mlflow_uri).get_run(result.run_id)
    assert run.data.tags["nag.kind"] == "visualize"
    assert run.data.params["method"] == "tsne"
    arts = {a.path for a in mlflow.MlflowClient(mlflow_uri).list_artifacts(result.run_id, "plots")}
    assert "plots/nag_map.png" in arts


def test_nag_map_needs_layers(spark, tmp_path):
    pool = _features(spark, {"web": 10})
    with pytest.raises(ConfigError, match="num_layers"):
        nag_map(spark, pool, output_dir=tmp_path, log_mlflow=False, method="pca")
