"""Files shipped inside the package for cluster set-up (``python -m nag_spark.resources``
prints their installed paths).

- ``gpu_discovery.py``: Spark's GPU discovery script (``spark.executor.resource.gpu.
  discoveryScript``, ``spark.worker.resource.gpu.discoveryScript``). pip's pyspark ships
  none, and a standalone worker or an executor must run one to offer GPUs to tasks.
"""
from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent


def discovery_script() -> Path:
    """The installed path of the GPU discovery script.

    >>> discovery_script().name
    'gpu_discovery.py'
    """
    return RESOURCES / "gpu_discovery.py"
