"""``run_deactivation``: the errors a user meets, named before the model is loaded.

The successful path (real SmolLM2 features, MLflow run) is tested end to end through
jobs/deactivate.py in tests/jobs/test_deactivate_job.py.
"""
from __future__ import annotations

import dataclasses

import pytest

from nag_spark.analysis.deactivation_run import DeactivateOptions, run_deactivation
from nag_spark.errors import ConfigError, InputError, LineageMismatchError, TableError


def _opts(features, docs, **kw) -> DeactivateOptions:
    return DeactivateOptions(target=kw.pop("target", "hellaswag"), features=str(features),
                             docs=str(docs), n_texts=2, max_length=8, track=False, **kw)


def test_unknown_target(spark, smollm2_features, shared_data):
    with pytest.raises(ConfigError, match="unknown target 'nope'.*hellaswag"):
        run_deactivation(spark, _opts(smollm2_features["targets"], shared_data / "targets.parquet",
                                      target="nope"))


def test_missing_docs_and_missing_table(spark, smollm2_features, tmp_path, shared_data):
    with pytest.raises(InputError, match=r"--docs.*missing\.parquet does not exist"):
        run_deactivation(spark, _opts(smollm2_features["targets"], tmp_path / "missing.parquet"))
    with pytest.raises(TableError, match="no Delta table"):
        run_deactivation(spark, _opts(tmp_path / "nothing", shared_data / "targets.parquet"))


def test_docs_without_the_target_rows(spark, smollm2_features, tmp_path):
    import pandas as pd

    # A documents file holding none of the target docids: the wrong file was passed.
    docs = tmp_path / "other_docs.parquet"
    pd.DataFrame({"docid": ["a", "b"], "doc": ["some text", "more text"]}).to_parquet(docs)
    with pytest.raises(InputError, match="none of the target 'hellaswag' docids"):
        run_deactivation(spark, _opts(smollm2_features["targets"], docs))


def test_empty_target(spark, smollm2_features, shared_data):
    with pytest.raises(InputError, match="target 'dataset=nope' is empty.*hellaswag_train"):
        run_deactivation(spark, _opts(smollm2_features["targets"], shared_data / "targets.parquet",
                                      target="dataset=nope"))


def test_features_of_another_neuron_type(spark, smollm2_features, shared_data, tmp_path):
    from pyspark.sql import types as T

    from nag_spark.delta import table_properties, write_table

    props = table_properties(smollm2_features["targets"], spark)
    props.update({"nag.neuron_types": "fwd_down", "nag.n_neurons.fwd_down": "576"})
    props.pop("nag.n_neurons.fwd_up", None)
    schema = T.StructType([T.StructField("docid", T.StringType()),
                           T.StructField("dataset", T.StringType()),
                           T.StructField("fwd_down", T.ArrayType(T.ShortType()))])
    df = spark.createDataFrame([("d1", "hellaswag_train", list(range(600)))], schema)
    path = tmp_path / "fwd_down_features"
    write_table(df, str(path), mode="overwrite", properties=props)
    with pytest.raises(LineageMismatchError, match="'fwd_down'.*needs fwd_up features"):
        run_deactivation(spark, _opts(path, shared_data / "targets.parquet"))


@pytest.mark.parametrize("field,value,match", [("n_texts", 0, "--n-texts"),
                                               ("max_length", 1, "--max-length"),
                                               ("device", "tpu", "--device"),
                                               ("share", 2.0, "--share")])
def test_bad_options(spark, smollm2_features, shared_data, field, value, match):
    opts = dataclasses.replace(_opts(smollm2_features["targets"], shared_data / "targets.parquet"),
                               **{field: value})  # the options are frozen
    with pytest.raises(InputError, match=match):
        run_deactivation(spark, opts)
