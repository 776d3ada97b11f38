"""``dtype auto``: pick what is faster on the machine, measured, not assumed, and only if it
gives the same NAGs.

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
# ... and give the same NAGs: bench/extract_cpu.py measured bf16 on CPU at 88.5% equal top-K
# sets and a 0.917 selection Jaccard against fp32 (the rule for a default is >= 0.95), so a
# speed win alone never makes bf16 the CPU default.
MIN_AGREEMENT = 0.99
_BATCH, _TOKENS, _REPEATS = 4, 96, 2


def _time_extraction(model, ids, repeats: int):
    """Seconds per extraction pass (forward with the NAG hooks and top-K, as workers run),
    and the NAGs of the batch."""
    import torch

    from ..kernels.impact import NeuronImpact

    extractor = NeuronImpact(model, ("fwd_up",), 20)
    mask = torch.ones_like(ids)
    try:
        nags = extractor.top_k(ids, mask)["fwd_up"]  # also the warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            extractor.top_k(ids, mask)
        return (time.perf_counter() - start) / repeats, nags
    finally:
        extractor.close()


def topk_agreement(a, b) -> float:
    """Share of (document, layer) pairs whose top-K neuron sets are equal.

    >>> import numpy as np
    >>> topk_agreement(np.array([[[1, 2], [3, 4]]]), np.array([[[2, 1], [3, 5]]]))
    0.5
    """
    import numpy as np

    a, b = np.sort(np.asarray(a), axis=-1), np.sort(np.asarray(b), axis=-1)
    return float((a == b).all(axis=-1).mean())


@lru_cache(maxsize=8)
def calibrate_cpu(kind: str, location: str, name: str, cache_dir: str) -> tuple[float, float, float]:
    """Seconds per extraction pass of a small batch in fp32 and in bf16, and the share of
    (document, layer) top-K sets bf16 gets exactly as fp32 does."""
    import torch

    from .loading import load_backbone
    from .spec import ModelSpec

    from pathlib import Path

    backbone = load_backbone(ModelSpec(name, kind, location), "float32", "cpu",
                             cache_dir=Path(cache_dir) if cache_dir else None)
    vocab = int(getattr(backbone.model.config, "vocab_size", 1000))
    ids = torch.randint(0, vocab, (_BATCH, _TOKENS), generator=torch.Generator().manual_seed(0))
    fp32, nags32 = _time_extraction(backbone.model, ids, _REPEATS)
    bf16, nags16 = _time_extraction(backbone.model.to(torch.bfloat16), ids, _REPEATS)
    return fp32, bf16, topk_agreement(nags32, nags16)


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
    fp32, bf16, *rest = calibrate_cpu(spec.kind, spec.location, spec.name, str(cache_dir or ""))
    agreement = rest[0] if rest else 1.0
    speedup = fp32 / bf16 if bf16 > 0 else 0.0
    fast, same = speedup >= MIN_SPEEDUP, agreement >= MIN_AGREEMENT
    dtype = "bfloat16" if fast and same else "float32"
    reason = (f"auto on CPU, calibrated: bf16 {speedup:.2f}x fp32 speed "
              f"({fp32 * 1000:.0f} vs {bf16 * 1000:.0f} ms per {_BATCH}x{_TOKENS} batch; "
              f"bf16 needs >= {MIN_SPEEDUP}x), top-K sets equal to fp32 for "
              f"{100 * agreement:.1f}% (needs >= {100 * MIN_AGREEMENT:.0f}%): {dtype}")
    log.info("dtype %s", reason)
    return dtype, reason
