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
