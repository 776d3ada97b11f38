"""``dtype auto`` (models/calibrate.py): on CPU, fp32 unless a short calibration on the
loaded model measures bf16 clearly faster; every choice comes with its reason."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spark" / "extract"))
from tiny_model import tiny_model  # noqa: E402,F401

from nag_spark.errors import ConfigError  # noqa: E402
from nag_spark.models import calibrate, resolve_model_spec  # noqa: E402
from nag_spark.models.calibrate import choose_dtype  # noqa: E402

OFF = {"spark.nag.extract.cpu_calibration": "off"}


@pytest.fixture
def spec(tiny_model):
    return resolve_model_spec(tiny_model)


def test_explicit_dtype_and_gpu_need_no_calibration(spec, monkeypatch):
    def no_calibration(*args):
        raise AssertionError("calibration must not run")

    monkeypatch.setattr(calibrate, "calibrate_cpu", no_calibration)
    assert choose_dtype("float32", "cpu", spec, None) == ("float32", "float32 as asked")
    assert choose_dtype("bfloat16", "cpu", spec, None)[0] == "bfloat16"
    dtype, reason = choose_dtype("auto", "cuda", spec, None)
    assert dtype == "bfloat16" and "GPU" in reason
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'"):
        choose_dtype("fp8", "cpu", spec, None)


def test_cpu_without_native_bf16_or_with_calibration_off_is_fp32(spec, monkeypatch):
    monkeypatch.setattr(calibrate, "calibrate_cpu", lambda *a: pytest.fail("calibration ran"))
    monkeypatch.setattr(calibrate, "cpu_has_native_bf16", lambda: False)
    dtype, reason = choose_dtype("auto", "cpu", spec, None)
    assert dtype == "float32" and "without native bf16" in reason
    monkeypatch.setattr(calibrate, "cpu_has_native_bf16", lambda: True)
    dtype, reason = choose_dtype("auto", "cpu", spec, None, OFF)
    assert dtype == "float32" and "calibration off" in reason
    # The env wins over the conf (a single job steered without touching the profile).
    monkeypatch.setenv("NAG_EXTRACT_CPU_CALIBRATION", "off")
    assert "calibration off" in choose_dtype("auto", "cpu", spec, None, {})[1]


def test_calibration_on_the_real_model_names_both_timings(spec, monkeypatch):
    monkeypatch.delenv("NAG_EXTRACT_CPU_CALIBRATION", raising=False)
    monkeypatch.setattr(calibrate, "cpu_has_native_bf16", lambda: True)
    calibrate.calibrate_cpu.cache_clear()
    dtype, reason = choose_dtype("auto", "cpu", spec, None, {})
    m = re.search(r"calibrated: bf16 ([\d.]+)x fp32 speed \((\d+) vs (\d+) ms per \d+x\d+ batch", reason)
    assert m, reason
    assert dtype == ("bfloat16" if float(m.group(1)) >= calibrate.MIN_SPEEDUP else "float32")
    fp32, bf16, agreement = calibrate.calibrate_cpu(spec.kind, spec.location, spec.name, "")
    assert 0.0 <= agreement <= 1.0
    assert fp32 > 0 and bf16 > 0


@pytest.mark.parametrize("fp32_s, bf16_s, expected", [(0.30, 0.20, "bfloat16"),   # 1.5x
                                                      (0.30, 0.27, "float32"),    # 1.11x: noise
                                                      (0.20, 0.30, "float32")])   # slower
def test_bf16_must_be_clearly_faster(spec, monkeypatch, fp32_s, bf16_s, expected):
    # Timings fixed here (the real measurement is above): the rule, not the machine.
    monkeypatch.delenv("NAG_EXTRACT_CPU_CALIBRATION", raising=False)
    monkeypatch.setattr(calibrate, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(calibrate, "calibrate_cpu", lambda *a: (fp32_s, bf16_s))
    dtype, reason = choose_dtype("auto", "cpu", spec, None, {})
    assert dtype == expected
    assert f"{fp32_s * 1000:.0f} vs {bf16_s * 1000:.0f} ms" in reason and reason.endswith(expected)


def test_bf16_that_changes_the_nags_is_not_chosen(spec, monkeypatch):
    """Faster is not enough: bf16 must also give fp32's top-K sets (>= 99% of them)."""
    monkeypatch.delenv("NAG_EXTRACT_CPU_CALIBRATION", raising=False)
    monkeypatch.setattr(calibrate, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(calibrate, "calibrate_cpu", lambda *a: (3.0, 1.0, 0.885))
    dtype, reason = calibrate.choose_dtype("auto", "cpu", spec, None)
    assert dtype == "float32" and "88.5%" in reason
    monkeypatch.setattr(calibrate, "calibrate_cpu", lambda *a: (3.0, 1.0, 0.995))
    assert calibrate.choose_dtype("auto", "cpu", spec, None)[0] == "bfloat16"
