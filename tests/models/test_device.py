"""One resolver for device settings (extraction workers, the deactivation analysis)."""
from __future__ import annotations

import pytest

from nag_spark.errors import InputError
from nag_spark.models.device import check_device, planned_device_kind, resolve_device


def test_explicit_settings_are_kept():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda:3") == "cuda:3"


def test_auto_outside_a_task_follows_torch(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # fake: no GPU here
    assert resolve_device("auto") == "cuda:0"


def test_bad_settings_name_the_option():
    for bad in ("gpu", "cuda:x", "tpu"):
        with pytest.raises(InputError, match="--device must be"):
            check_device(bad)


def test_planned_kind_on_the_driver(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert planned_device_kind("auto", 1.0, local_master=False) == "cuda"
    assert planned_device_kind("auto", 0.0, local_master=True) == "cpu"
    assert planned_device_kind("cpu", 1.0, local_master=False) == "cpu"
