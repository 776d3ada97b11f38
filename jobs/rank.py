"""Rank a features pool against target(s) and write an exact token-budget selection.

    spark-submit jobs/rank.py --target hellaswag[,arc_c,...] --pool PATH --output PATH \
        [--target-features PATH] [--fraction 0.2] [--neuron-type fwd_up] \
        [--layers all|last|first|0,5,9] [--power 1.0] [--quality-col COL [--invert-quality]] \
        [--dedupe] [--profile local] [--experiment NAME]

Also runs as ``python jobs/rank.py ...``. Targets resolve through conf/targets.yaml;
``--target-filter COL=VALUE`` defines one inline. The selection is a Delta table; the run is
an MLflow run (``MLFLOW_TRACKING_URI``, default ./mlruns.db) tagged ``nag.kind=rank``.
"""
from __future__ import annotations

import argparse
import os
import sys

# A checkout run as `python jobs/rank.py` finds the package without installing it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="", help="target name(s) from conf/targets.yaml, comma-separated")
    p.add_argument("--target-filter", action="append", default=[],
                   help="inline target COL=VALUE[|VALUE] (repeatable)")
    p.add_argument("--pool", required=True, help="features Delta table of the pool")
    p.add_argument("--output", required=True, help="selection Delta table to write")
    p.add_argument("--target-features", help="features table of the targets (default: --pool)")
    p.add_argument("--fraction", type=float, default=0.2, help="token fraction in (0, 1] (default 0.2)")
    p.add_argument("--neuron-type", default="fwd_up")
    p.add_argument("--layers", default="all", help="all | first | last | comma list of layers")
    p.add_argument("--power", type=float, default=1.0, help="exponent on target counts")
    p.add_argument("--quality-col", help="pool column blended with the distance")
    p.add_argument("--invert-quality", action="store_true", help="quality is higher-is-better")
    p.add_argument("--dedupe", action="store_true", help="drop docids already kept by an earlier target")
    p.add_argument("--payload-cols", default="", help="pool columns to copy into the selection")
    p.add_argument("--mode", default="overwrite", choices=["overwrite", "error"],
                   help="when the output table exists (default overwrite: a new version)")
    p.add_argument("--targets-file", help="target definitions (default conf/targets.yaml)")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml Spark settings")
    p.add_argument("--experiment", help="MLflow experiment (default nag-spark)")
    p.add_argument("--run-name", help="MLflow run name")
    args = p.parse_args(argv)
    if args.invert_quality and not args.quality_col:
        p.error("--invert-quality goes with --quality-col")
    return args


def main(argv=None) -> int:
    from nag_spark.errors import NagError
    from nag_spark.session import get_spark
    from nag_spark.spark.rank import RankOptions, run_ranking

    args = parse_args(argv)
    targets = [t for t in args.target.split(",") if t.strip()] + args.target_filter
    opts = RankOptions(
        targets=targets, pool=args.pool, output=args.output,
        target_features=args.target_features, fraction=args.fraction,
        neuron_type=args.neuron_type, layers=args.layers, power=args.power,
        quality_col=args.quality_col, invert_quality=args.invert_quality, dedupe=args.dedupe,
        payload_cols=tuple(c for c in args.payload_cols.split(",") if c.strip()),
        experiment=args.experiment, run_name=args.run_name, mode=args.mode,
        targets_file=args.targets_file)
    try:
        spark = get_spark(args.profile, app_name="nag-spark-rank")
        result = run_ranking(spark, opts)
    except NagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for t in result.targets:
        print(f"{t.name}: {t.selected_docs} docs, {t.selected_tokens} tokens "
              f"(budget {t.budget}, boundary {t.boundary:.6f})")
    print(f"selection: {result.output_path}@v{result.output_version}  mlflow run {result.run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
