"""Comparing rank runs side by side, the MLflow side: parameters, overlap, composition,
distances, as tables, figures, an HTML report and a ``compare`` run.

- :mod:`.rank_runs` — which runs (:class:`RankRun`, :func:`resolve_runs`);
- :mod:`.tables` — the report's tables from the overlap bit masks;
- :mod:`.summary`, :mod:`.html_report` — the console summary and ``report.html``;
- :mod:`.report` — :class:`ComparisonReport`, its figures and files;
- :mod:`.record` — the MLflow run of kind ``compare``.

The selections themselves are read, and their overlap counted, by the Spark layer
(:mod:`nag_spark.spark.overlap`); :func:`nag_spark.spark.compare.compare_runs` runs the
whole comparison.
"""
from .html_report import inline_images
from .rank_runs import MAX_RUNS, RankRun, resolve_runs, tracking_at
from .record import log_compare_run
from .report import ComparisonReport, build_report, draw_figures, write_report_files
from .tables import jaccard_from_masks, side_by_side

__all__ = ["MAX_RUNS", "ComparisonReport", "RankRun", "build_report", "draw_figures",
           "inline_images", "jaccard_from_masks", "log_compare_run", "resolve_runs",
           "side_by_side", "tracking_at", "write_report_files"]
