"""Appends that would mix lineages are refused; commit metadata keeps the engine's keys."""
from __future__ import annotations

import json

import pytest

from nag_spark.delta.lineage import check_lineage, commit_info_fields, user_metadata
from nag_spark.errors import LineageMismatchError


def test_an_append_must_agree_on_every_given_key():
    check_lineage({"a": "1", "b": "2"}, {"a": "1"}, "/t")
    with pytest.raises(LineageMismatchError, match=r"/t: property 'b' is '2' .* '3'"):
        check_lineage({"a": "1", "b": "2"}, {"a": "1", "b": "3"}, "/t")
    with pytest.raises(LineageMismatchError, match="'c' is absent"):
        check_lineage({"a": "1"}, {"c": "x"}, "/t")


def test_commit_info_goes_to_user_metadata_without_overriding_engine_keys():
    info = {"job": "extract", "operation": "HACK", "chunk": 3}
    assert json.loads(user_metadata(info)) == {"chunk": "3", "job": "extract", "operation": "HACK"}
    assert commit_info_fields(info) == {"job": "extract", "chunk": "3"}
    assert user_metadata(None) is None


def test_the_kind_and_the_neuron_types_are_named_before_side_properties():
    # Issue 13 item 9: these refusals used to name whichever side key sorted first
    # ("'nag.architecture' is absent in the table").
    wanted = {"nag.kind": "features", "nag.architecture": "Llama", "nag.neuron_types": "fwd_down",
              "nag.n_neurons.fwd_down": "16"}
    with pytest.raises(LineageMismatchError, match=r"table /docs is a Delta table nag-spark did not "
                                                   r"write \(it has no property 'nag.kind'"):
        check_lineage({"delta.appendOnly": "false"}, wanted, "/docs")
    with pytest.raises(LineageMismatchError, match=r"table /sel is a selection table, not a "
                                                   r"features table"):
        check_lineage({"nag.kind": "selection"}, wanted, "/sel")
    with pytest.raises(LineageMismatchError, match=r"table /f holds NAGs of neuron types 'fwd_up', "
                                                   r"but this run extracts 'fwd_down'"):
        check_lineage({"nag.kind": "features", "nag.architecture": "Llama",
                       "nag.neuron_types": "fwd_up", "nag.n_neurons.fwd_up": "32"}, wanted, "/f")
