"""Loading SmolLM2-135M from the cache as a base model (no LM head)."""
from __future__ import annotations

from nag_spark.models import cache, local_model_dir, resolve_model_spec


def test_smollm2_loads_from_cache_as_base_model():
    from nag_spark.models import describe_model, load_backbone

    spec = resolve_model_spec("smollm2-135m")
    info = describe_model(spec)
    assert info["architecture"] == "LlamaForCausalLM" and info["num_layers"] == 30
    assert info["n_neurons"]["fwd_up"] == 1536 and info["n_neurons"]["att_k"] == 576
    folder = local_model_dir(spec)
    marker = (folder / cache._MARKER).stat().st_mtime_ns
    bb = load_backbone(spec, "float32", "cpu")
    assert type(bb.model).__name__ == "LlamaModel"  # no LM head
    assert not hasattr(bb.model, "lm_head")
    assert bb.tokenizer.padding_side == "left" and bb.pad_id == bb.tokenizer.eos_token_id
    assert (folder / cache._MARKER).stat().st_mtime_ns == marker  # not converted again
    # Well under a second on an idle machine; generous here because tests share 2 cores.
    assert bb.load_seconds < 10


def test_loading_draws_no_progress_bar(capfd):
    """Job logs carry our one "loaded ..." line, not transformers' "Loading weights" bars."""
    from nag_spark.models import load_backbone

    load_backbone(resolve_model_spec("smollm2-135m"))
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s]" not in err
