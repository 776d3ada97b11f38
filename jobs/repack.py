"""Rewrite a features table of an earlier release into today's packed NAG columns.

    spark-submit jobs/repack.py --input OLD_TABLE --output NEW_TABLE [--profile local]

Also runs as ``python jobs/repack.py ...``. Tables whose NAG columns are ``array<short>`` or
``array<int>`` (written before NAGs were packed) keep working as they are; the repacked copy (``binary``, bit-packed,
docs/delta.md) holds the same rows and lineage and ranks several times faster.
"""
from __future__ import annotations

import argparse
import os
import sys

# The checkout first on sys.path (a checkout run as `python jobs/...` finds the package), and
# this folder off it, where jobs/select.py would shadow the standard library's `select`.
_JOBS = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_JOBS)] + [p for p in sys.path if os.path.abspath(p or os.curdir) != _JOBS]

from nag_spark.cli import run_job  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="features Delta table with array NAG columns")
    p.add_argument("--output", required=True, help="new features Delta table to write")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml Spark settings")
    return p.parse_args(argv)


def main_body(argv=None) -> int:
    from nag_spark.session import get_spark
    from nag_spark.spark.repack import repack_features

    args = parse_args(argv)
    spark = get_spark(args.profile, app_name="nag-spark-repack")
    version, kinds = repack_features(spark, args.input, args.output)
    print(f"repacked {', '.join(f'{c} ({k})' for c, k in kinds.items())}: "
          f"{args.output}@v{version}")
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
