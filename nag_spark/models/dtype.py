"""Choosing the compute dtype: bf16 where the hardware runs it natively, else fp32.

Where it is decided. A features table records one dtype (its lineage), so it is chosen
once, on the driver, for the device kind the job is planned for
(:func:`~nag_spark.models.device.planned_device_kind`: GPU when tasks ask for GPUs or, in
local mode, when the driver sees CUDA) — bf16 on GPUs, fp32 or a calibrated choice on CPUs
(:mod:`.calibrate`). The executor is where the model runs, so each worker verifies the plan
before it loads a model (:func:`verify_on_worker`): a task planned for a GPU that gets none
fails with a clear error instead of computing the table's NAGs on the wrong kind of device,
and a CPU-planned job never drifts onto a GPU that Spark did not schedule. A GPU without
native bf16 (compute capability below 8.0) is reported, since bf16 is emulated there.
"""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache

from ..errors import ConfigError
from ..logs import get_logger

log = get_logger(__name__)

DTYPES = ("auto", "float32", "bfloat16")


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic (AVX512-BF16/AMX on x86, FEAT_BF16 on ARM).

    Without it, PyTorch emulates bf16 matmuls on CPU and they run slower than fp32, so
    ``auto`` must not pick bf16 there.
    """
    system = platform.system()
    try:
        if system == "Linux":
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            flags = set()
            for line in text.splitlines():
                if line.startswith(("flags", "Features")):
                    flags.update(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
        if system == "Darwin":
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"],
                                 capture_output=True, text=True, timeout=5)
            return out.stdout.strip() == "1"
    except (OSError, subprocess.SubprocessError):
        return False
    return False


def resolve_dtype(name: str, device: str) -> str:
    """Resolve ``auto|float32|bfloat16`` for ``device`` to a concrete dtype name.

    Parameters
    ----------
    name : str
        The requested dtype.
    device : str
        ``cpu`` or a CUDA device (``cuda``, ``cuda:1``).

    Returns
    -------
    str
        ``"float32"`` or ``"bfloat16"``.

    Examples
    --------
    >>> resolve_dtype("auto", "cuda:0")
    'bfloat16'
    """
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    if name != "auto":
        return name
    if device.startswith("cuda"):
        return "bfloat16"
    return "bfloat16" if cpu_has_native_bf16() else "float32"


def verify_on_worker(dtype: str, device: str, planned: str | None) -> None:
    """Check, in the worker, that ``device`` is what the driver planned ``dtype`` for.

    Raises
    ------
    ConfigError
        The task runs on another kind of device than planned (see
        :func:`~nag_spark.models.device.check_planned_device`).
    """
    from .device import check_planned_device

    check_planned_device(device, planned)
    if dtype == "bfloat16" and device.startswith("cuda"):
        import torch

        ordinal = int(device.split(":", 1)[1]) if ":" in device else 0
        major, minor = torch.cuda.get_device_capability(ordinal)
        if major < 8:
            log.warning(
                "%s (compute capability %d.%d) has no native bf16: it is emulated and slow; "
                "--dtype float32 is faster there", torch.cuda.get_device_name(ordinal), major, minor)


def torch_dtype(name: str):
    """The ``torch.dtype`` for a resolved dtype name."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]
