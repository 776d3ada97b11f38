"""Options are validated and resolved into a plan, before any model work and without
being changed; run_extraction refuses bad options and foreign tables untouched."""
from __future__ import annotations

import pandas as pd
import pytest

from nag_spark.errors import ConfigError, InputError, LineageMismatchError
from nag_spark.spark.extract import ExtractOptions, plan_extraction, run_extraction


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


# ------------------------------------------------------------------ the plan, without Spark
# SmolLM2-135M's lineage facts come from its config (no weights are loaded).


def test_plan_resolves_without_changing_the_options():
    opts = ExtractOptions("docs.parquet", "feats", top_k="7", max_length="16", batch_tokens=None,
                          chunk_docs=None, carry=["title", "docid"], track=False)
    conf = {"spark.nag.extract.batch_tokens": "512", "spark.nag.extract.chunk_docs": "9",
            "spark.task.cpus": "3"}
    plan = plan_extraction(opts, conf, local_master=False)
    assert (plan.top_k, plan.max_length, plan.batch_tokens, plan.chunk_docs) == (7, 16, 512, 9)
    assert (opts.top_k, opts.max_length, opts.batch_tokens, opts.chunk_docs) == ("7", "16", None, None)
    assert plan.options is opts and plan.device == "auto" and plan.threads == 3
    # A new table stores NAGs as tables.nag_codec decides for SmolLM2's 1536 up neurons.
    from nag_spark.tables.nag_codec import index_type
    assert plan.neuron_types == ("fwd_up",) and plan.index_types == {"fwd_up": index_type(1536)}
    assert plan.dtype in ("float32", "bfloat16")
    cfg = plan.worker_config(["docid", "doc", "dataset", "title"])
    assert cfg.carry == ("title",) and cfg.has_dataset and not cfg.has_token_num
    assert (cfg.top_k, cfg.max_length, cfg.batch_tokens, cfg.threads) == (7, 16, 512, 3)


def test_plan_defaults_and_device_setting():
    plan = plan_extraction(ExtractOptions("d", "o"), {}, local_master=False)
    assert (plan.batch_tokens, plan.chunk_docs) == (4096, 20000)
    assert plan.dtype in ("float32", "bfloat16")  # auto on CPU: bf16 only where native
    gpu = plan_extraction(ExtractOptions("d", "o"), {"spark.task.resource.gpu.amount": "0.5"},
                          local_master=False)
    assert gpu.dtype == "bfloat16" and gpu.device == "auto"
    cpu = plan_extraction(ExtractOptions("d", "o", dtype="float32"),
                          {"spark.nag.extract.device": "cuda"}, local_master=False)
    assert cpu.device == "cuda" and cpu.dtype == "float32"
    with pytest.raises(InputError, match="--device must be auto, cpu, cuda or cuda:N, got 'gpu'"):
        plan_extraction(ExtractOptions("d", "o", device="gpu"), {}, local_master=False)


def test_plan_lineage_is_the_features_contract():
    plan = plan_extraction(ExtractOptions("d", "o", neuron_types="att_k,fwd_up", dtype="float32"),
                           {}, local_master=False)
    props = plan.table_properties
    assert list(props) == ["nag.kind", "nag.model", "nag.model_digest", "nag.architecture",
                           "nag.num_layers", "nag.top_k", "nag.max_length", "nag.dtype",
                           "nag.neuron_types", "nag.n_neurons.att_k", "nag.n_neurons.fwd_up",
                           "nag.version"]
    assert props["nag.model"] == "smollm2-135m" and props["nag.neuron_types"] == "att_k,fwd_up"
    assert (props["nag.n_neurons.att_k"], props["nag.n_neurons.fwd_up"]) == ("576", "1536")
    # An append must agree on everything but the library version.
    assert plan.append_properties == {k: v for k, v in props.items() if k != "nag.version"}


def test_plan_errors_name_the_option():
    with pytest.raises(InputError, match="--batch-tokens must be a positive integer, got -1"):
        plan_extraction(ExtractOptions("d", "o", batch_tokens=-1), {})
    with pytest.raises(InputError, match="--chunk-docs must be a positive integer, got 'x'"):
        plan_extraction(ExtractOptions("d", "o"), {"spark.nag.extract.chunk_docs": "x"})
    with pytest.raises(InputError, match="--max-length must be a positive integer"):
        plan_extraction(ExtractOptions("d", "o", max_length=0), {})
    with pytest.raises(InputError, match="--top-k 600 exceeds the 576 att_k neurons"):
        plan_extraction(ExtractOptions("d", "o", neuron_types="fwd_up,att_k", top_k=600), {})
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'"):
        plan_extraction(ExtractOptions("d", "o", dtype="fp8"), {})
