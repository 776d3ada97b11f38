"""Compare rank runs side by side: parameters, selection overlap, composition, distances.

    spark-submit jobs/compare.py --runs RUN_ID,RUN_ID[,...] --output compare/
    spark-submit jobs/compare.py --experiment nag-spark --last 3 --output compare/

Reads the runs from MLflow (``MLFLOW_TRACKING_URI`` or ``--tracking-uri``; default the
local store ``./mlruns.db``) and their selection tables from Delta at the versions the runs
recorded; writes PNG figures, CSV tables and ``report.html`` to ``--output``, prints a short
summary, and logs it all to a new MLflow run tagged ``nag.kind=compare``.
"""
from __future__ import annotations

import argparse
import os
import sys

# The checkout first on sys.path (a checkout run as `python jobs/...` finds the package), and
# this folder off it, where jobs/select.py would shadow the standard library's `select`.
_JOBS = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_JOBS)] + [p for p in sys.path if os.path.abspath(p or os.curdir) != _JOBS]

from nag_spark.cli import comma_list, default_of, run_job  # noqa: E402
from nag_spark.spark.compare import CompareOptions  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--runs", help="comma-separated MLflow run ids of rank runs")
    which.add_argument("--experiment", help="compare the finished rank runs of this experiment")
    p.add_argument("--last", type=int, default=default_of(CompareOptions, "last"),
                   help="with --experiment: only the N most recent runs")
    p.add_argument("--output", required=True, help="folder for the figures and report.html")
    p.add_argument("--tracking-uri", default=default_of(CompareOptions, "tracking_uri"),
                   help="MLflow tracking URI (default MLFLOW_TRACKING_URI or ./mlruns.db)")
    p.add_argument("--log-experiment", default=default_of(CompareOptions, "compare_experiment"),
                   help="experiment of the compare run (default: the first run's)")
    p.add_argument("--no-mlflow", action="store_true", help="do not log a compare run")
    p.add_argument("--profile", default=default_of(CompareOptions, "profile"), help="conf/<profile>.yaml")
    args = p.parse_args(argv)
    if args.last is not None and not args.experiment:
        p.error("--last goes with --experiment")
    return args


def main_body(argv=None) -> int:
    from nag_spark.spark.compare import run_comparison

    args = parse_args(argv)
    run_comparison(CompareOptions(
        run_ids=comma_list(args.runs), experiment=args.experiment, last=args.last,
        output_dir=args.output, profile=args.profile, tracking_uri=args.tracking_uri,
        log_run=not args.no_mlflow, compare_experiment=args.log_experiment,
    ))
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
