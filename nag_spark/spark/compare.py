"""Comparing rank runs side by side: parameters, selection overlap, composition, distances.

The runs come from MLflow (:mod:`nag_spark.tracking.compare`), their selections from Delta
at the exact versions the runs recorded (:mod:`nag_spark.spark.overlap`), and the overlap
of all pairs is counted in one Spark job. The report (PNGs, CSVs, ``summary.txt``,
``report.html``) goes to ``output_dir`` and, unless asked otherwise, to a new MLflow run of
kind ``compare``.

Examples
--------
>>> report = compare_runs(run_ids=["3f1c...", "9a2b..."], output_dir="compare/")  # doctest: +SKIP
>>> report.jaccard_docids                                                      # doctest: +SKIP
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..config import DEFAULT_PROFILE
from ..delta.output_check import check_folder_output
from ..tracking.compare import (ComparisonReport, build_report, draw_figures, log_compare_run,
                                resolve_runs, tracking_at, write_report_files)
from ..tracking.runs import check_tracking_store
from .overlap import overlap_counts, read_selection


@dataclass(frozen=True, kw_only=True)
class CompareOptions:
    """What :func:`run_comparison` compares, and where the report goes.

    Attributes
    ----------
    run_ids : tuple of str
        The runs to compare (at least two), in report order.
    experiment : str, optional
        Instead of ``run_ids``: the finished rank runs of this experiment (oldest first).
    last : int, optional
        With ``experiment``: only the ``last`` most recent runs.
    output_dir : str
        Where the PNGs, CSVs, ``summary.txt`` and ``report.html`` go.
    profile : str
        ``conf/<profile>.yaml``, for the Spark session when none is given.
    tracking_uri : str, optional
        MLflow tracking URI; default ``MLFLOW_TRACKING_URI`` or the local store.
    log_run : bool
        Log everything in ``output_dir`` to a new MLflow run of kind ``compare``.
    compare_experiment : str, optional
        Experiment of that run; default the experiment of the first compared run.
    print_summary : bool
        Print the text summary to stdout.
    """

    run_ids: tuple[str, ...] = ()
    experiment: str | None = None
    last: int | None = None
    output_dir: str
    profile: str = DEFAULT_PROFILE
    tracking_uri: str | None = None
    log_run: bool = True
    compare_experiment: str | None = None
    print_summary: bool = True


def run_comparison(opts: CompareOptions, spark=None) -> ComparisonReport:
    """Compare rank runs: parameters, overlap, composition and distances, as figures + HTML.

    Parameters
    ----------
    opts : CompareOptions
    spark : SparkSession, optional
        Default: :func:`nag_spark.session.get_spark` with ``opts.profile``.

    Returns
    -------
    ComparisonReport

    Raises
    ------
    TableError
        An output folder that is a file, a Delta table or not writable (checked first).
    InputError
        Missing run ids, runs of another kind, an unknown experiment, fewer than two runs.
    TableError
        A selection table no longer has the recorded version, or its files were vacuumed.
    """
    check_folder_output(opts.output_dir)
    out = Path(opts.output_dir)
    with tracking_at(opts.tracking_uri) as uri:
        if opts.log_run:
            check_tracking_store()
        # The runs are checked before Spark starts; their JSON artifacts are read then dropped.
        with tempfile.TemporaryDirectory(prefix="nag-compare-") as tmp:
            runs = resolve_runs(list(opts.run_ids), opts.experiment, opts.last,
                                artifacts_dir=tmp, uri=uri)
        # The report must not land inside a selection table it reads.
        check_folder_output(opts.output_dir, inputs=[(f"run {r.label}", r.output_path) for r in runs])
        out.mkdir(parents=True, exist_ok=True)
        if spark is None:
            spark = _session(opts.profile)
        selections = [read_selection(spark, r) for r in runs]
        masks = overlap_counts(spark, [s.frame for s in selections])
        compositions = {r.label: s.composition for r, s in zip(runs, selections)}
        rows = {r.label: s.rows for r, s in zip(runs, selections)}
        report = build_report(runs, masks, compositions, rows)
        report.figures = draw_figures(report, compositions, out)
        report.html = write_report_files(report, out)
        if opts.print_summary:
            print(report.summary)
            print(f"Report: {report.html}")
        if opts.log_run:
            report.run_id = log_compare_run(report, out, opts.compare_experiment or runs[0].experiment)
            if opts.print_summary:
                print(f"Logged to MLflow run {report.run_id} ({uri})")
    return report


def _session(profile: str):
    from ..session import get_spark

    return get_spark(profile, app_name="nag-spark compare")


def compare_runs(run_ids: Sequence[str] | None = None, experiment: str | None = None,
                 last: int | None = None, *, output_dir: str | os.PathLike, spark=None,
                 **options) -> ComparisonReport:
    """:func:`run_comparison` with keyword arguments (the fields of :class:`CompareOptions`).

    ``compare_runs([id1, id2], output_dir="compare/")`` or
    ``compare_runs(experiment="nag-spark", last=3, output_dir="compare/")``.
    """
    opts = CompareOptions(run_ids=tuple(run_ids or ()), experiment=experiment, last=last,
                          output_dir=os.fspath(output_dir), **options)
    return run_comparison(opts, spark=spark)
