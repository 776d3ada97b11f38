#!/usr/bin/env python3
"""Spark GPU discovery script: prints ``{"name": "gpu", "addresses": [...]}``.

Spark runs it on each standalone worker (``spark.worker.resource.gpu.discoveryScript``) or
executor (``spark.executor.resource.gpu.discoveryScript``) to learn which GPUs it may hand
to tasks. Standard library only, so any ``python3`` runs it.

Addresses are the GPUs ``nvidia-smi`` lists, as their index. When ``CUDA_VISIBLE_DEVICES``
is set (YARN GPU isolation, a container runtime, a hand-made split of a node), only the
GPUs it lists are reported, in its order and spelled as it spells them (an index, a
``GPU-`` UUID or a ``MIG-`` id): the worker maps such an address to its position in
``CUDA_VISIBLE_DEVICES``, which is the CUDA ordinal (``nag_spark.models.device``). Without
``nvidia-smi`` (or when it fails) no address is reported and the reason goes to stderr.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

QUERY = ["--query-gpu=index,uuid", "--format=csv,noheader,nounits"]


def listed_gpus(smi: str = "nvidia-smi") -> list[tuple[str, str]]:
    """``(index, uuid)`` of every GPU ``nvidia-smi`` lists."""
    out = subprocess.run([smi, *QUERY], capture_output=True, text=True, timeout=60, check=True)
    gpus = []
    for line in out.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit():
            gpus.append((parts[0], parts[1]))
    return gpus


def addresses(gpus: list[tuple[str, str]], visible: str | None) -> list[str]:
    """The addresses to report for ``gpus`` under ``CUDA_VISIBLE_DEVICES=visible``.

    >>> addresses([("0", "GPU-a"), ("1", "GPU-b"), ("2", "GPU-c")], None)
    ['0', '1', '2']
    >>> addresses([("0", "GPU-a"), ("1", "GPU-b"), ("2", "GPU-c")], "2,GPU-a,7")
    ['2', 'GPU-a']
    """
    if visible is None:
        return [index for index, _ in gpus]
    known = {index for index, _ in gpus} | {uuid for _, uuid in gpus}
    out = []
    for entry in (v.strip() for v in visible.split(",")):
        if entry and (entry in known or entry.startswith("MIG-")) and entry not in out:
            out.append(entry)
    return out


def main() -> int:
    smi = os.environ.get("NAG_NVIDIA_SMI", "nvidia-smi")
    try:
        gpus = listed_gpus(smi)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"gpu_discovery: {smi} failed ({exc}); reporting no GPU", file=sys.stderr)
        gpus = []
    found = addresses(gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
    print(json.dumps({"name": "gpu", "addresses": found}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
