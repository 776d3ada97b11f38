"""Which device a model runs on: the one place a ``--device`` setting is resolved.

``auto`` means, in order: the GPU Spark gave this task (``TaskContext.resources()['gpu']``);
in local mode, the GPU of this task's slot when the extraction stage runs one task per GPU
(:mod:`nag_spark.spark.extract.gpu_stage`); the first CUDA device when one is visible and
the job was planned for GPUs (or no plan is known: a notebook, an analysis); else the CPU.
``cpu`` and ``cuda:N`` are taken as given; ``cuda`` means the task's GPU when Spark gave
it one, else ``cuda:0``.

Spark GPU addresses are not always CUDA ordinals. A discovery script reports what
``nvidia-smi`` sees (physical indices, or UUIDs), while CUDA numbers only the devices in
``CUDA_VISIBLE_DEVICES``, in that order: with ``CUDA_VISIBLE_DEVICES=2,3`` (YARN GPU
isolation, a container runtime) Spark's address ``3`` is CUDA device 1. See
:func:`cuda_ordinal`.

A GPU worker binds its device with ``torch.cuda.set_device`` (:func:`bind_device`) before
loading anything, so every library allocation and the CUDA context land on it, not on
device 0.
"""
from __future__ import annotations

import os

from ..errors import ConfigError, InputError
from ..logs import get_logger

log = get_logger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda")
#: Local property set on the extraction job in local mode: GPUs the stage is spread over.
LOCAL_GPU_SLOTS = "spark.nag.extract.local_gpu_slots"


def check_device(setting: str | None) -> str:
    """Validate a device setting (``None`` and ``""`` mean ``auto``).

    >>> check_device("cuda:1"), check_device(None)
    ('cuda:1', 'auto')
    """
    value = (setting or "auto").strip()
    if value in DEVICE_CHOICES or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise InputError(f"--device must be auto, cpu, cuda or cuda:N, got {setting!r}")


def visible_devices(env=None) -> list[str] | None:
    """The entries of ``CUDA_VISIBLE_DEVICES``, or None when it is not set.

    >>> visible_devices({"CUDA_VISIBLE_DEVICES": " 2, 3"}), visible_devices({})
    (['2', '3'], None)
    >>> visible_devices({"CUDA_VISIBLE_DEVICES": ""})
    []
    """
    env = os.environ if env is None else env
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def cuda_ordinal(address: str, env=None, uuids=None, count: int | None = None) -> int:
    """The CUDA ordinal of a Spark GPU address in this process.

    Parameters
    ----------
    address : str
        What Spark's discovery reported (``"3"``, ``"GPU-5f2c..."``, ``"MIG-..."``).
    env : mapping, optional
        The environment (default ``os.environ``); only ``CUDA_VISIBLE_DEVICES`` is read.
    uuids : sequence of str, optional
        The UUIDs of the CUDA devices in ordinal order (looked up only for a UUID address
        that ``CUDA_VISIBLE_DEVICES`` does not list).
    count : int, optional
        CUDA devices this process sees (to reject an address out of range).

    Rules: an address listed in ``CUDA_VISIBLE_DEVICES`` is its position there (the
    devices were remapped); otherwise a number is already an ordinal (no remapping, or a
    discovery script that reports ordinals); a UUID is found among ``uuids``.

    Examples
    --------
    >>> cuda_ordinal("3", {"CUDA_VISIBLE_DEVICES": "2,3"})
    1
    >>> cuda_ordinal("1", {}), cuda_ordinal("0", {"CUDA_VISIBLE_DEVICES": "2,3"})
    (1, 0)
    >>> cuda_ordinal("GPU-b", {}, uuids=["GPU-a", "GPU-b"])
    1
    """
    address = str(address).strip()
    visible = visible_devices(env)
    where = f"CUDA_VISIBLE_DEVICES={','.join(visible)!r}" if visible is not None else \
        "CUDA_VISIBLE_DEVICES unset"
    if visible is not None and address in visible:
        ordinal = visible.index(address)
    elif address.isdigit():
        ordinal = int(address)
        if visible is not None and ordinal >= len(visible):
            raise ConfigError(f"Spark assigned GPU {address!r} but this executor sees only "
                              f"{len(visible)} CUDA device(s) ({where}); make the GPU "
                              "discovery script report addresses that CUDA_VISIBLE_DEVICES lists")
    elif uuids is not None and address in list(uuids):
        ordinal = list(uuids).index(address)
    else:
        raise ConfigError(f"Spark assigned GPU {address!r}, which is neither a device number "
                          f"nor a visible device's UUID ({where})")
    if count is not None and ordinal >= count:
        raise ConfigError(f"Spark assigned GPU {address!r} = CUDA device {ordinal}, but this "
                          f"executor sees {count} CUDA device(s) ({where})")
    return ordinal


def _device_uuids() -> list[str]:
    import torch

    out = []
    for i in range(torch.cuda.device_count()):
        uuid = str(getattr(torch.cuda.get_device_properties(i), "uuid", ""))
        out.append(uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}")
    return out


def _task_context():
    try:
        from pyspark import TaskContext

        return TaskContext.get()
    except Exception:  # noqa: BLE001 - no pyspark or no task (driver, tests)
        return None


def task_gpu_address(ctx=None) -> str | None:
    """The first GPU address Spark gave the current task, if any."""
    ctx = ctx if ctx is not None else _task_context()
    try:
        gpu = ctx.resources().get("gpu") if ctx is not None else None
    except Exception:  # noqa: BLE001 - a task context without resources
        return None
    return gpu.addresses[0] if gpu is not None and gpu.addresses else None


def local_gpu_slot(ctx=None) -> int | None:
    """In a local-mode extraction spread over G GPUs, this task's GPU: partition mod G."""
    ctx = ctx if ctx is not None else _task_context()
    if ctx is None:
        return None
    try:
        slots = ctx.getLocalProperty(LOCAL_GPU_SLOTS)
    except Exception:  # noqa: BLE001
        return None
    return ctx.partitionId() % int(slots) if slots and int(slots) > 0 else None


def _task_gpu(ctx=None) -> str | None:
    address = task_gpu_address(ctx)
    if address is not None:
        import torch

        count = torch.cuda.device_count()
        uuids = _device_uuids() if not address.isdigit() and count else None
        return f"cuda:{cuda_ordinal(address, uuids=uuids, count=count or None)}"
    slot = local_gpu_slot(ctx)
    return None if slot is None else f"cuda:{slot}"


def resolve_device(setting: str | None = "auto", planned: str | None = None, ctx=None) -> str:
    """The torch device string for ``setting`` in this process (see the module doc).

    Parameters
    ----------
    setting : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    planned : {"cpu", "cuda"}, optional
        Where the driver planned the job (:func:`planned_device_kind`). With ``cpu``,
        ``auto`` stays on the CPU even if a GPU is visible: Spark did not schedule it, so
        every task slot of the executor would pile onto device 0, and the dtype was chosen
        for the CPU. With ``cuda``, a task that gets no GPU is an error
        (:func:`check_planned_device`).
    ctx : TaskContext, optional
        For tests; default the current task's.
    """
    value = check_device(setting)
    if value not in ("auto", "cuda"):
        return value
    gpu = _task_gpu(ctx)
    if gpu is not None:
        return gpu
    if value == "cuda":
        return "cuda:0"
    if planned == "cpu":
        return "cpu"
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def check_planned_device(device: str, planned: str | None) -> None:
    """Fail clearly when a task's device is not the kind the driver planned (and chose the
    dtype recorded in the table for)."""
    if planned not in ("cpu", "cuda") or device.startswith(planned):
        return
    import socket

    import torch

    raise ConfigError(
        f"extraction was planned for {planned} workers (the table's dtype was chosen for "
        f"them) but a task on {socket.gethostname()} runs on {device} "
        f"(torch.cuda.is_available()={torch.cuda.is_available()}, "
        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); give the executors "
        "GPUs (spark.executor.resource.gpu.amount, spark.task.resource.gpu.amount) or pass "
        "--device cpu")


def bind_device(device: str) -> None:
    """Make ``device`` the current CUDA device of this process (no-op on CPU)."""
    if not device.startswith("cuda"):
        return
    import torch

    ordinal = int(device.split(":", 1)[1]) if ":" in device else 0
    if not torch.cuda.is_available():
        raise ConfigError(f"device {device} asked for, but torch sees no CUDA device "
                          f"(torch {torch.__version__}, CUDA_VISIBLE_DEVICES="
                          f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
    torch.cuda.set_device(ordinal)


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


def local_gpu_count() -> int:
    """CUDA devices this (driver) process sees; 0 without CUDA."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
