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


# ------------------------------------------------------------------ GPU mapping (no GPU needed)
from types import SimpleNamespace  # noqa: E402

from nag_spark.errors import ConfigError  # noqa: E402
from nag_spark.models.device import (LOCAL_GPU_SLOTS, bind_device, check_planned_device,  # noqa: E402
                                     cuda_ordinal)


def fake_task(addresses=None, partition=0, local_slots=None):
    """A stand-in for pyspark's TaskContext: GPU addresses, partition id, local property."""
    resources = {"gpu": SimpleNamespace(addresses=list(addresses))} if addresses else {}
    props = {LOCAL_GPU_SLOTS: local_slots} if local_slots else {}
    return SimpleNamespace(resources=lambda: resources, partitionId=lambda: partition,
                           getLocalProperty=props.get)


@pytest.fixture
def two_gpus(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: SimpleNamespace(uuid=f"GPU-{'ab'[i]}"))
    return monkeypatch


def test_spark_addresses_become_cuda_ordinals_under_remapping(two_gpus):
    two_gpus.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert resolve_device("auto", ctx=fake_task(["3"])) == "cuda:1"
    assert resolve_device("auto", ctx=fake_task(["2"])) == "cuda:0"
    assert resolve_device("cuda", ctx=fake_task(["3"])) == "cuda:1"  # "cuda": the task's GPU
    assert resolve_device("auto", ctx=fake_task(["1"])) == "cuda:1"  # already an ordinal
    with pytest.raises(ConfigError, match=r"Spark assigned GPU '5' .* sees only 2 CUDA"):
        resolve_device("auto", ctx=fake_task(["5"]))
    two_gpus.setenv("CUDA_VISIBLE_DEVICES", "GPU-x,GPU-y")
    assert resolve_device("auto", ctx=fake_task(["GPU-y"])) == "cuda:1"
    two_gpus.delenv("CUDA_VISIBLE_DEVICES")
    assert resolve_device("auto", ctx=fake_task(["1"])) == "cuda:1"
    assert resolve_device("auto", ctx=fake_task(["GPU-b"])) == "cuda:1"  # found by UUID
    with pytest.raises(ConfigError, match="sees 2 CUDA device"):
        resolve_device("auto", ctx=fake_task(["7"]))
    with pytest.raises(ConfigError, match="neither a device number nor a visible device's UUID"):
        resolve_device("auto", ctx=fake_task(["GPU-zz"]))
    assert cuda_ordinal("MIG-1", {"CUDA_VISIBLE_DEVICES": "MIG-0,MIG-1"}) == 1


def test_local_mode_spreads_tasks_over_gpus_and_cpu_plans_stay_on_cpu(two_gpus):
    assert resolve_device("auto", ctx=fake_task(partition=3, local_slots="2")) == "cuda:1"
    assert resolve_device("auto", ctx=fake_task(partition=2, local_slots="2")) == "cuda:0"
    # Planned for CPU: a visible GPU that Spark did not schedule is not used.
    assert resolve_device("auto", planned="cpu", ctx=fake_task()) == "cpu"
    assert resolve_device("auto", planned="cuda", ctx=fake_task()) == "cuda:0"


def test_a_task_on_the_wrong_kind_of_device_fails_clearly(monkeypatch):
    check_planned_device("cuda:1", "cuda")
    check_planned_device("cpu", "cpu")
    check_planned_device("cpu", None)  # no plan, no check
    with pytest.raises(ConfigError, match=r"planned for cuda workers .* runs on cpu .* --device cpu"):
        check_planned_device("cpu", "cuda")
    from nag_spark.models.dtype import verify_on_worker

    with pytest.raises(ConfigError, match="planned for cpu workers"):
        verify_on_worker("float32", "cuda:0", "cpu")


def test_bind_device_sets_the_current_cuda_device(two_gpus):
    import torch

    calls = []
    two_gpus.setattr(torch.cuda, "set_device", calls.append)
    bind_device("cpu")
    bind_device("cuda:1")
    assert calls == [1]
    two_gpus.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="torch sees no CUDA device"):
        bind_device("cuda:0")


def test_a_reused_worker_handed_another_gpu_keeps_one_copy():
    """Spark may give a reused worker another GPU: the model held on the old one goes first."""
    from nag_spark.spark.extract.model_cache import ModelCache

    loads = []
    cache = ModelCache(capacity=2, load=lambda cfg, device: loads.append(device) or device,
                       make_extractor=lambda bb, types, k: SimpleNamespace(close=lambda: None))
    cfg = SimpleNamespace(model_name="m", load_log=None, neuron_types=("fwd_up",), top_k=20,
                          model_key=lambda d: ("m", d), extractor_key=lambda: (("fwd_up",), 20))
    cache.get(cfg, "cuda:0")
    cache.get(cfg, "cuda:1")
    assert cache.keys() == [("m", "cuda:1")]
    cache.get(cfg, "cpu")  # a CPU copy does not hold GPU memory: kept beside it
    assert cache.keys() == [("m", "cuda:1"), ("m", "cpu")] and loads == ["cuda:0", "cuda:1", "cpu"]
