"""Every job checks its output before any model load or scan (issue 13, item 4).

Each case gives a job a bad output *and* inputs or a model that would fail later (a
missing pool, a model that does not exist, an unreadable file): the one line the job
prints names the output, which proves the output was checked first. The jobs run in this
process through their own ``main`` (argparse, options, the shared ``run_job`` tail).
"""
from __future__ import annotations

import pytest

from fault_fixtures import run_cli


@pytest.fixture
def places(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a table")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.csv").write_text("a,b\n")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 truncated")
    return {"file": str(a_file), "foreign": str(foreign), "broken": str(broken),
            "missing": str(tmp_path / "missing"), "tmp": tmp_path}


def _one_line(outcome, pattern: str) -> None:
    import re

    assert outcome.status == 2, outcome.stderr[-3000:]
    assert len(outcome.error_lines) == 1, outcome.stderr[-3000:]
    assert re.search(pattern, outcome.error_lines[0]), outcome.error_lines[0]


@pytest.mark.parametrize("output, pattern", [
    ("file", r"^error: --output: .*a_file is a file, not a Delta table directory"),
    ("foreign", r"^error: --output: .*foreign is not a Delta table .*keep.csv"),
    ("broken", r"^error: --output .*broken.parquet is the input of --input"),
    ("/proc/nag/features", r"^error: --output /proc/nag/features: cannot create /proc"),
])
def test_extract(spark, places, output, pattern):
    out = places.get(output, output)
    _one_line(run_cli("extract", ["--input", places["broken"], "--output", out,
                                  "--model", "no-such-model", "--no-mlflow"]), pattern)
    assert open(places["file"]).read() == "not a table"


def test_rank(spark, places, mlflow_uri):
    for output, pattern in (("file", r"^error: --output: .*a_file is a file"),
                            ("foreign", r"^error: --output: .*foreign is not a Delta table")):
        _one_line(run_cli("rank", ["--target", "hellaswag", "--pool", places["missing"],
                                   "--output", places[output]]), pattern)


def test_compare_visualize_deactivate(spark, places, mlflow_uri, monkeypatch):
    _one_line(run_cli("compare", ["--runs", "nope1,nope2", "--output", places["file"],
                                  "--no-mlflow"]), r"^error: --output .*a_file is a file, not a folder")
    _one_line(run_cli("visualize", ["--pool", places["missing"], "--output", places["file"],
                                    "--no-mlflow"]), r"^error: --output .*a_file is a file, not a folder")
    # Deactivation writes no table: its output is its MLflow run, checked before the model.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////proc/nag/mlflow.db")
    _one_line(run_cli("deactivate", ["--target", "hellaswag", "--features", places["missing"],
                                     "--docs", places["broken"], "--model", "no-such-model"]),
              r"^error: MLflow tracking store sqlite:////proc/nag/mlflow.db: cannot write in /proc")
    _one_line(run_cli("extract", ["--input", places["broken"], "--output", str(places["tmp"] / "f"),
                                  "--model", "no-such-model"]),
              r"^error: MLflow tracking store .*: cannot write in /proc")
