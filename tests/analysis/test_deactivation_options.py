"""The deactivation options: frozen, checked into a plan before any table is read."""
from __future__ import annotations

import dataclasses

import pytest

from nag_spark.analysis.deactivation_options import DeactivateOptions, plan_deactivation
from nag_spark.errors import ConfigError, InputError


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.parquet"
    path.write_bytes(b"")  # only its existence is checked here
    return str(path)


def test_plan_resolves_the_target_and_device(docs):
    opts = DeactivateOptions(target="dataset=hellaswag_train|x", features="f", docs=docs,
                             device=" cuda:1 ")
    plan = plan_deactivation(opts)
    assert plan.options is opts and plan.features == "f"
    assert (plan.target.column, plan.target.values) == ("dataset", ("hellaswag_train", "x"))
    assert plan.device == "cuda:1" and opts.device == " cuda:1 "  # the options are left alone
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.n_texts = 3


@pytest.mark.parametrize("field,value,match", [("n_texts", 0, "--n-texts must be positive"),
                                               ("batch_size", -1, "--batch-size must be positive"),
                                               ("max_length", 1, "--max-length must be at least 2"),
                                               ("device", "tpu", "--device must be")])
def test_bad_options(docs, field, value, match):
    opts = dataclasses.replace(DeactivateOptions(target="hellaswag", features="f", docs=docs),
                               **{field: value})
    with pytest.raises(InputError, match=match):
        plan_deactivation(opts)


def test_missing_docs_then_unknown_target(tmp_path, docs):
    with pytest.raises(InputError, match=r"documents \(--docs\).*does not exist"):
        plan_deactivation(DeactivateOptions(target="nope", features="f", docs=str(tmp_path / "x.parquet")))
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        plan_deactivation(DeactivateOptions(target="nope", features="f", docs=docs))
