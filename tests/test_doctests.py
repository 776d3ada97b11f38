"""The numpydoc examples of the pure modules run as doctests (they are documentation that
must stay true): kernels, plots, the table contracts and the small helpers.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest


PURE_PACKAGES = ("nag_spark.kernels", "nag_spark.plots", "nag_spark.tables")
PURE_MODULES = ("nag_spark.cli", "nag_spark.models.device", "nag_spark.config",
                "nag_spark.spark.extract.units", "nag_spark.spark.extract.job_files",
                "nag_spark.spark.extract.progress", "nag_spark.models.calibrate",
                "nag_spark.delta.log_commit", "nag_spark.delta.output_check",
                "nag_spark.spark.input_checks", "nag_spark.tracking.rank_run")


def _modules() -> list[str]:
    names = list(PURE_MODULES)
    for pkg_name in PURE_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg_name + ".")]
    return sorted(set(names))


@pytest.mark.parametrize("name", _modules())
def test_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


def test_the_pure_layer_has_examples():
    """Guards against the doctests silently running nothing."""
    attempted = sum(doctest.testmod(importlib.import_module(n)).attempted for n in _modules())
    assert attempted >= 20, f"only {attempted} examples found in {PURE_PACKAGES}"
