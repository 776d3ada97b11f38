"""Choosing the compute dtype: bf16 where the hardware runs it natively, else fp32."""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache

from ..errors import ConfigError

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


def torch_dtype(name: str):
    """The ``torch.dtype`` for a resolved dtype name."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]
