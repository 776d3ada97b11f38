"""run_extraction refuses bad options and foreign tables before any model work."""
from __future__ import annotations

import pandas as pd
import pytest

from nag_spark.errors import ConfigError, InputError, LineageMismatchError
from nag_spark.spark.extract import ExtractOptions, run_extraction


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.parquet"
    pd.DataFrame({"docid": ["a", "b"], "doc": ["one two", "three"]}).to_parquet(path)
    return str(path)


def test_unknown_model_and_neuron_type(spark, docs, tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'tiny-nonexistent'"):
        run_extraction(spark, ExtractOptions(docs, str(tmp_path / "o"), model="tiny-nonexistent",
                                             track=False))
    with pytest.raises(InputError, match="unknown neuron type 'mlp_gate'"):
        run_extraction(spark, ExtractOptions(docs, str(tmp_path / "o"), neuron_types="fwd_up,mlp_gate",
                                             track=False))
    with pytest.raises(InputError, match="--top-k must be a positive integer"):
        run_extraction(spark, ExtractOptions(docs, str(tmp_path / "o"), top_k=0, track=False))
    assert not (tmp_path / "o").exists()


def test_existing_table_of_other_lineage_is_refused_untouched(spark, docs, tmp_path):
    from nag_spark.delta import table_version, write_table

    out = str(tmp_path / "feats")
    frame = spark.createDataFrame(pd.DataFrame({"docid": ["z"], "token_num": [1]}))
    write_table(frame, out, properties={"nag.kind": "features", "nag.model": "smollm2-135m",
                                        "nag.top_k": "10"})
    before = table_version(out)
    with pytest.raises(LineageMismatchError, match=r"'nag.\w+'"):
        run_extraction(spark, ExtractOptions(docs, out, top_k=20, track=False))
    assert table_version(out) == before
