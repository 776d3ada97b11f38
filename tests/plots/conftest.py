"""Shared by the figure tests: a PNG check and CONTRACT-shaped inputs."""
from __future__ import annotations

import numpy as np
import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == PNG_MAGIC


@pytest.fixture
def is_png():
    """``is_png(path)``: the file starts with the PNG signature."""
    return _is_png


@pytest.fixture(scope="module")
def weights():
    rng = np.random.default_rng(0)
    counts = rng.zipf(1.7, size=(6, 300)).astype(float)
    return counts / counts.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def hist():
    rng = np.random.default_rng(1)
    edges = np.linspace(0.5, 1.0, 26)
    # 25 datasets: more than the legend cap, to exercise the "other" bucket.
    counts = {f"source_{i:02d}": np.histogram(rng.normal(0.8, 0.05, 50 + i), edges)[0].tolist()
              for i in range(25)}
    return {"edges": edges.tolist(), "counts": counts, "boundary": {"hellaswag": 0.78}}
