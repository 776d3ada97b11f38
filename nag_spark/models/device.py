"""Which device a model runs on: the one place a ``--device`` setting is resolved.

``auto`` means the GPU Spark gave this task (``TaskContext.resources()['gpu']``), else the
first CUDA device when one is visible (local mode, a notebook), else the CPU; ``cpu``,
``cuda`` and ``cuda:N`` are taken as given.
"""
from __future__ import annotations

from ..errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def check_device(setting: str | None) -> str:
    """Validate a device setting (``None`` and ``""`` mean ``auto``).

    >>> check_device("cuda:1"), check_device(None)
    ('cuda:1', 'auto')
    """
    value = (setting or "auto").strip()
    if value in DEVICE_CHOICES or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise InputError(f"--device must be auto, cpu, cuda or cuda:N, got {setting!r}")


def _task_gpu() -> str | None:
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        gpu = ctx.resources().get("gpu") if ctx is not None else None
        if gpu is not None and gpu.addresses:
            return f"cuda:{gpu.addresses[0]}"
    except Exception:  # noqa: BLE001 - no task context (driver, tests): fall through
        pass
    return None


def resolve_device(setting: str | None = "auto") -> str:
    """The torch device string for ``setting`` in this process (see the module doc)."""
    value = check_device(setting)
    if value != "auto":
        return value
    gpu = _task_gpu()
    if gpu is not None:
        return gpu
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def planned_device_kind(setting: str | None, gpus_per_task: float, local_master: bool) -> str:
    """``cuda`` or ``cpu``: where a job's workers will run, judged on the driver.

    Spark tasks that ask for GPUs run on one; in local mode the driver's own CUDA is what the
    workers see; elsewhere, without GPU resources, the workers run on CPU.

    >>> planned_device_kind("auto", 0.0, local_master=False)
    'cpu'
    >>> planned_device_kind("cuda:1", 0.0, local_master=False)
    'cuda'
    """
    value = check_device(setting)
    if value.startswith("cuda"):
        return "cuda"
    if value == "cpu":
        return "cpu"
    if gpus_per_task > 0:
        return "cuda"
    if local_master:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cpu"
