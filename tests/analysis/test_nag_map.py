"""nag_map: the NAG map as a story (read, check lineage, sample, embed, draw, log)."""
from __future__ import annotations

import dataclasses
import sys

import mlflow
import pytest

from nag_spark.analysis.nag_map import NagMapOptions, nag_map
from nag_spark.errors import ConfigError, LineageMismatchError
from nag_spark.tables.features import FeaturesLineage

L, K, N = 4, 3, 50


def _lineage(**kw) -> dict:
    values = dict(model="toy", model_digest="sha256:1", architecture="Toy", num_layers=L, top_k=K,
                  max_length=120, dtype="float32", neuron_types=("fwd_up",), n_neurons={"fwd_up": N})
    values.update(kw)
    return FeaturesLineage(**values).to_properties()


def _table(df, path, props) -> str:
    from nag_spark.delta import write_table

    write_table(df, str(path), mode="overwrite", properties=props)
    return str(path)


def test_nag_map_logs_a_visualize_run(spark, synthetic_features, tmp_path, mlflow_uri):
    pool = synthetic_features({"web": 120, "wiki": 60, "code": 30})
    targets = synthetic_features({"hellaswag_train": 40, "arc_c_train": 40}, seed=1, prefix="t/")
    result = nag_map(spark, NagMapOptions(
        pool=pool, targets=targets, output_dir=str(tmp_path), num_layers=L, n_neurons=N,
        target_filter=("dataset", ["hellaswag_train"]), per_dataset=30,
        max_points=90, seed=0, method="tsne", tsne_iter=250, experiment="viz-test"))
    pts = result.points
    assert len(pts) <= 90 and set(pts.columns) >= {"docid", "dataset", "is_target", "x", "y"}
    assert set(pts[pts.is_target].dataset) == {"hellaswag_train"}
    assert (tmp_path / "nag_map.png").is_file() and (tmp_path / "nag_map_points.csv").is_file()
    run = mlflow.MlflowClient(mlflow_uri).get_run(result.run_id)
    assert run.data.tags["nag.kind"] == "visualize"
    assert run.data.params["method"] == "tsne"
    arts = {a.path for a in mlflow.MlflowClient(mlflow_uri).list_artifacts(result.run_id, "plots")}
    assert "plots/nag_map.png" in arts


def test_nag_map_needs_layers(spark, synthetic_features, tmp_path):
    pool = synthetic_features({"web": 10})
    with pytest.raises(ConfigError, match="num_layers"):
        nag_map(spark, NagMapOptions(pool=pool, output_dir=str(tmp_path), log_mlflow=False,
                                     method="pca"))


def test_options_are_frozen(tmp_path):
    opts = NagMapOptions(pool="p", output_dir=str(tmp_path))
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.seed = 1
    assert (opts.per_dataset, opts.max_points, opts.method) == (200, 3000, "auto")


def test_tables_give_the_shape_and_must_share_a_lineage(spark, synthetic_features, tmp_path):
    pool = _table(synthetic_features({"web": 30, "code": 30}), tmp_path / "pool", _lineage())
    same = _table(synthetic_features({"hellaswag_train": 20}, seed=1, prefix="t/"),
                  tmp_path / "targets", _lineage())
    result = nag_map(spark, NagMapOptions(pool=pool, targets=same, output_dir=str(tmp_path / "ok"),
                                          method="pca", log_mlflow=False))
    assert result.params["num_layers"] == L and result.points.is_target.any()

    other = _table(synthetic_features({"hellaswag_train": 20}, seed=1, prefix="t/"),
                   tmp_path / "other_model", _lineage(model="another", model_digest="sha256:2"))
    with pytest.raises(LineageMismatchError, match=r"nag.model='toy'.*nag.model='another'"):
        nag_map(spark, NagMapOptions(pool=pool, targets=other, output_dir=str(tmp_path / "x"),
                                     method="pca", log_mlflow=False))
    wider = _table(synthetic_features({"hellaswag_train": 20}, seed=1, prefix="t/"),
                   tmp_path / "other_k", _lineage(top_k=K + 1))
    with pytest.raises(LineageMismatchError, match="nag.top_k"):
        nag_map(spark, NagMapOptions(pool=pool, targets=wider, output_dir=str(tmp_path / "y"),
                                     method="pca", log_mlflow=False))


def test_missing_scikit_learn_is_a_config_error_before_any_read(spark, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ConfigError, match=r"pip install 'nag-spark\[viz\]'"):
        # The pool path does not exist: the dependency is checked before anything is read.
        nag_map(spark, NagMapOptions(pool=str(tmp_path / "nothing"), output_dir=str(tmp_path)))
