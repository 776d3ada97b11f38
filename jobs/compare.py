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
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--runs", help="comma-separated MLflow run ids of rank runs")
    which.add_argument("--experiment", help="compare the finished rank runs of this experiment")
    p.add_argument("--last", type=int, help="with --experiment: only the N most recent runs")
    p.add_argument("--output", required=True, help="folder for the figures and report.html")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default MLFLOW_TRACKING_URI or ./mlruns.db)")
    p.add_argument("--log-experiment", help="experiment of the compare run (default: the first run's)")
    p.add_argument("--no-mlflow", action="store_true", help="do not log a compare run")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml")
    args = p.parse_args(argv)
    if args.last is not None and not args.experiment:
        p.error("--last goes with --experiment")
    return args


def main(argv=None) -> int:
    from nag_spark.errors import NagError
    from nag_spark.tracking.compare import compare_runs

    args = parse_args(argv)
    try:
        compare_runs(
            run_ids=[r for r in args.runs.split(",") if r.strip()] if args.runs else None,
            experiment=args.experiment, last=args.last, output_dir=args.output,
            profile=args.profile, tracking_uri=args.tracking_uri, log_run=not args.no_mlflow,
            compare_experiment=args.log_experiment,
        )
    except NagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
