"""``dtype auto``: pick what is faster on the machine, measured, not assumed.

On GPUs bf16 is the rule (tensor cores). On CPUs it is not: a CPU may report native bf16
(``avx512_bf16``) and still run bf16 extraction slower than fp32 — measured 1.3x slower on
our 2-core development machines. So on CPU, ``auto`` means fp32 unless a short calibration
on the loaded model (a few timed forward passes in each dtype) finds bf16 clearly faster.
The choice and its reason are recorded in the run.
"""
from __future__ import annotations

import time
from functools import lru_cache

from ..config import nag_setting
from ..errors import ConfigError
from ..logs import get_logger
from .dtype import DTYPES, cpu_has_native_bf16

log = get_logger(__name__)

# bf16 must beat fp32 by this much to be chosen: below it, timing noise decides.
MIN_SPEEDUP = 1.2
_BATCH, _TOKENS, _REPEATS = 4, 96, 2


def _time_extraction(model, ids, repeats: int) -> float:
    """Seconds per extraction pass (forward with the NAG hooks and top-K, as workers run)."""
    import torch

    from ..kernels.impact import NeuronImpact

    extractor = NeuronImpact(model, ("fwd_up",), 20)
    mask = torch.ones_like(ids)
    try:
        extractor.top_k(ids, mask)  # warm-up (allocations, kernel selection)
        start = time.perf_counter()
        for _ in range(repeats):
            extractor.top_k(ids, mask)
        return (time.perf_counter() - start) / repeats
    finally:
        extractor.close()


@lru_cache(maxsize=8)
def calibrate_cpu(kind: str, location: str, name: str, cache_dir: str) -> tuple[float, float]:
    """Seconds per extraction pass of an ``8 x 120``-token batch in fp32 and in bf16."""
    import torch

    from .loading import load_backbone
    from .spec import ModelSpec

    from pathlib import Path

    backbone = load_backbone(ModelSpec(name, kind, location), "float32", "cpu",
                             cache_dir=Path(cache_dir) if cache_dir else None)
    vocab = int(getattr(backbone.model.config, "vocab_size", 1000))
    ids = torch.randint(0, vocab, (_BATCH, _TOKENS), generator=torch.Generator().manual_seed(0))
    fp32 = _time_extraction(backbone.model, ids, _REPEATS)
    bf16 = _time_extraction(backbone.model.to(torch.bfloat16), ids, _REPEATS)
    return fp32, bf16


def choose_dtype(requested: str, device_kind: str, spec, cache_dir, conf=None) -> tuple[str, str]:
    """``(dtype, reason)`` for a run on ``device_kind`` (``cpu`` or ``cuda``).

    Setting ``spark.nag.extract.cpu_calibration=off`` skips the calibration (fp32 on CPU).
    """
    if requested not in DTYPES:
        raise ConfigError(f"unknown dtype {requested!r}; use one of {', '.join(DTYPES)}")
    if requested != "auto":
        return requested, f"{requested} as asked"
    if device_kind == "cuda":
        return "bfloat16", "auto on GPU: bf16"
    if not cpu_has_native_bf16():
        return "float32", "auto on CPU without native bf16: fp32"
    if (nag_setting(conf, "extract.cpu_calibration", "on") or "on").lower() == "off":
        return "float32", "auto on CPU, calibration off: fp32"
    fp32, bf16 = calibrate_cpu(spec.kind, spec.location, spec.name, str(cache_dir or ""))
    speedup = fp32 / bf16 if bf16 > 0 else 0.0
    dtype = "bfloat16" if speedup >= MIN_SPEEDUP else "float32"
    reason = (f"auto on CPU, calibrated: bf16 {speedup:.2f}x fp32 speed "
              f"({fp32 * 1000:.0f} vs {bf16 * 1000:.0f} ms per {_BATCH}x{_TOKENS} batch; "
              f"bf16 needs >= {MIN_SPEEDUP}x): {dtype}")
    log.info("dtype %s", reason)
    return dtype, reason
