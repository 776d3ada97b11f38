"""Neuron type names: validated, ordered, de-duplicated, and refused by name when unknown."""
from __future__ import annotations

import pytest

from nag_spark.errors import InputError
from nag_spark.kernels.neuron_types import NEURON_TYPES, parse_neuron_types


def test_lists_keep_order_and_drop_repeats_and_blanks():
    assert parse_neuron_types(" att_k, fwd_up,att_k,, ") == ("att_k", "fwd_up")
    assert parse_neuron_types(["fwd_down", "fwd_down"]) == ("fwd_down",)
    assert parse_neuron_types(None) == ("fwd_up",)
    assert set(NEURON_TYPES) == {"fwd_up", "fwd_down", "att_q", "att_k", "att_v", "att_o"}


@pytest.mark.parametrize("value, message", [("fwd_middle", "unknown neuron type 'fwd_middle'"),
                                            (" , ", "no neuron type given")])
def test_bad_values_name_the_problem(value, message):
    with pytest.raises(InputError, match=message):
        parse_neuron_types(value)
