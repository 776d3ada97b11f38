"""ComparisonReport from runs and overlap masks: tables, summary, figures, files (no Spark)."""
from __future__ import annotations

import numpy as np
import pytest

from nag_spark.tracking.compare.rank_runs import RankRun
from nag_spark.tracking.compare.report import build_report, draw_figures, write_report_files

POOL = {"web": 600, "code": 300, "books": 100}


def _run(label: str, fraction: str, selected: dict, with_hist: bool = True) -> RankRun:
    edges = np.linspace(0.5, 1.0, 6).tolist()
    hist = {"edges": edges, "counts": {"web": [1, 2, 3, 2, 1]}, "boundary": {"hellaswag": 0.7}}
    return RankRun(run_id=f"{label}123456789", label=label, name=label, experiment="e",
                   params={"fraction": fraction, "target": "hellaswag"},
                   metrics={"selected_docs": 3.0}, tags={}, output_path=f"/sel/{label}",
                   output_version=0, hist=hist if with_hist else None,
                   composition={"pool": POOL, "selected": {"hellaswag": selected}})


@pytest.fixture
def report_inputs():
    runs = [_run("a", "0.2", {"web": 20}), _run("b", "0.3", {"web": 20, "code": 30})]
    masks = [(0b11, 2, 20), (0b10, 1, 30)]
    comps = {"a": {"web": 20}, "b": {"web": 20, "code": 30}}
    return runs, masks, comps, {"a": 2, "b": 3}


def test_build_report(report_inputs):
    runs, masks, comps, rows = report_inputs
    report = build_report(runs, masks, comps, rows)
    assert report.labels == ["a", "b"]
    assert report.jaccard_docids.loc["a", "b"] == pytest.approx(2 / 3)
    assert report.jaccard_tokens.loc["a", "b"] == pytest.approx(20 / 50)
    assert report.selection.loc["b"].tolist() == [3, 3, 50]
    assert report.params.index[report.params["differs"]].tolist() == ["fraction"]
    assert list(report.composition.columns) == ["pool", "a", "b"]
    assert report.summary.startswith("Compared 2 rank runs:")
    assert "boundary hellaswag=0.7000" in report.summary
    assert "most over-represented web" in report.summary
    assert report.figures == {} and report.run_id is None


def test_figures_and_files(report_inputs, tmp_path):
    runs, masks, comps, rows = report_inputs
    report = build_report(runs, masks, comps, rows)
    report.figures = draw_figures(report, comps, tmp_path)
    assert set(report.figures) == {"jaccard", "composition", "distance", "overview"}
    assert all((tmp_path / f"{k}.png").is_file() for k in report.figures)
    page = write_report_files(report, tmp_path)
    for name in ("params.csv", "metrics.csv", "selection.csv", "jaccard_docids.csv",
                 "jaccard_tokens.csv", "composition.csv", "summary.txt", "report.html"):
        assert (tmp_path / name).is_file(), name
    html = (tmp_path / "report.html").read_text()
    assert page == str(tmp_path / "report.html")
    assert "<img src='distance.png'" in html and runs[0].run_id in html and "/sel/a@v0" in html


def test_no_distance_figure_without_histograms(tmp_path):
    runs = [_run("a", "0.2", {"web": 1}, with_hist=False), _run("b", "0.2", {"web": 1}, with_hist=False)]
    comps = {"a": {"web": 1}, "b": {"web": 1}}
    report = build_report(runs, [(0b11, 1, 1)], comps, {"a": 1, "b": 1})
    assert "distance" not in draw_figures(report, comps, tmp_path)
    assert "boundary n/a" in report.summary
