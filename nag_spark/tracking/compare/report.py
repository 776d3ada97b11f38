"""What a comparison produces: its tables, figures, files and summary, from the runs and
the overlap the Spark side counted (no Spark here: masks and compositions come in)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .evaluation import evaluation_table
from .html_report import write_html
from .rank_runs import RankRun
from .summary import summary_text
from .tables import (Masks, composition_table, jaccard_from_masks, jaccard_tables, pool_tokens,
                     selection_table, side_by_side)


@dataclass
class ComparisonReport:
    """What :func:`~nag_spark.spark.compare.compare_runs` produced.

    Attributes
    ----------
    runs : list of RankRun
        The compared runs, in report order.
    params, metrics : pandas.DataFrame
        One column per run label, one row per parameter/metric, those that differ first;
        column ``differs`` says which.
    selection : pandas.DataFrame
        Per run: rows, distinct docids and tokens of the selection table read.
    jaccard_docids, jaccard_tokens : pandas.DataFrame
        Pairwise Jaccard indices (labels × labels).
    composition : pandas.DataFrame
        Share of tokens by dataset (rows): the pool and each run's selection (columns).
    figures : dict of str -> str
        Name -> PNG path in ``output_dir``.
    html : str
        Path of ``report.html``.
    summary : str
        The console summary.
    run_id : str or None
        The MLflow run of kind ``compare`` the report was logged to.
    """

    runs: list[RankRun]
    params: "pandas.DataFrame"  # noqa: F821
    metrics: "pandas.DataFrame"  # noqa: F821
    selection: "pandas.DataFrame"  # noqa: F821
    jaccard_docids: "pandas.DataFrame"  # noqa: F821
    jaccard_tokens: "pandas.DataFrame"  # noqa: F821
    composition: "pandas.DataFrame"  # noqa: F821
    figures: dict[str, str] = field(default_factory=dict)
    html: str = ""
    summary: str = ""
    run_id: str | None = None

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.runs]


def build_report(runs: Sequence[RankRun], masks: Masks, compositions: Mapping[str, Mapping[str, int]],
                 rows: Mapping[str, int]) -> ComparisonReport:
    """The report's tables and summary.

    Parameters
    ----------
    runs : sequence of RankRun
    masks : sequence of (mask, docids, tokens)
        The overlap bit masks (bit ``i``: ``runs[i]`` selected the docid).
    compositions : dict of label -> {dataset: tokens}
        Each run's selection by dataset, as read from its table.
    rows : dict of label -> int
        Rows of each run's selection table.
    """
    labels = [r.label for r in runs]
    jd, jt = jaccard_from_masks(masks, len(runs))
    selection = selection_table(labels, rows, masks)
    params = side_by_side({r.label: r.params for r in runs})
    jd_df, jt_df = jaccard_tables(jd, jt, labels)
    composition = composition_table(pool_tokens([r.composition for r in runs]), compositions)
    return ComparisonReport(
        runs=list(runs), params=params, metrics=side_by_side({r.label: r.metrics for r in runs}),
        selection=selection, jaccard_docids=jd_df, jaccard_tokens=jt_df, composition=composition,
        summary=summary_text(runs, selection, jd, jt, composition, params))


def draw_figures(report: ComparisonReport, compositions: Mapping[str, Mapping[str, int]],
                 out: str | os.PathLike) -> dict[str, str]:
    """The PNGs of the report in ``out``: overlap, composition, distances (when the runs
    recorded histograms) and an overview montage of them."""
    from ...plots import plot_composition, plot_distance_overlay, plot_jaccard, plot_montage

    out = Path(out)
    jd, jt = report.jaccard_docids.to_numpy(), report.jaccard_tokens.to_numpy()
    figures = {"jaccard": plot_jaccard({"docids": jd, "tokens": jt}, report.labels, out / "jaccard.png")}
    figures["composition"] = plot_composition(
        pool_tokens([r.composition for r in report.runs]), compositions, out / "composition.png",
        title="Composition by dataset: share of tokens, each run's selection vs the pool")
    hists = {r.label: r.hist for r in report.runs if r.hist}
    if hists:
        figures["distance"] = plot_distance_overlay(hists, out / "distance.png")
    figures["overview"] = plot_montage(
        [[figures[k] for k in ("jaccard", "distance") if k in figures], [figures["composition"]]],
        out / "overview.png", title=f"nag-spark: comparison of {len(report.runs)} rank runs")
    return figures


def write_report_files(report: ComparisonReport, out: str | os.PathLike) -> str:
    """The CSV tables, ``summary.txt`` and ``report.html`` in ``out``; returns the HTML path."""
    out = Path(out)
    report.params.to_csv(out / "params.csv")
    report.metrics.to_csv(out / "metrics.csv")
    report.selection.to_csv(out / "selection.csv")
    report.jaccard_docids.to_csv(out / "jaccard_docids.csv")
    report.jaccard_tokens.to_csv(out / "jaccard_tokens.csv")
    report.composition.to_csv(out / "composition.csv")
    evaluation = evaluation_table(report.runs)
    if not evaluation.empty:  # jobs/evaluate.py results, when there are any
        evaluation.to_csv(out / "evaluation.csv")
    (out / "summary.txt").write_text(report.summary + "\n", encoding="utf-8")
    return write_html(report, out / "report.html")
