"""Rank a features pool against target(s) and write an exact token-budget selection.

    spark-submit jobs/rank.py --target hellaswag[,arc_c,...] --pool PATH --output PATH \
        [--target-features PATH] [--fraction 0.2] [--neuron-type fwd_up] \
        [--layers all|last|first|0,5,9] [--power 1.0] [--profile-weighting paper|log-ratio|tfidf] \
        [--top-k k] [--quality-col COL [--invert-quality]] \
        [--dedupe] [--scan auto|direct|spark] [--profile local] [--experiment NAME]

Also runs as ``python jobs/rank.py ...``. Targets resolve through conf/targets.yaml;
``--target-filter COL=VALUE`` defines one inline. The selection is a Delta table; the run is
an MLflow run (``MLFLOW_TRACKING_URI``, default ./mlruns.db) tagged ``nag.kind=rank``.
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
from nag_spark.kernels.profile import PROFILE_WEIGHTINGS  # noqa: E402
from nag_spark.spark.rank.direct_scan import SCAN_MODES  # noqa: E402
from nag_spark.spark.rank.options import RankOptions  # noqa: E402


def _default(name: str):
    return default_of(RankOptions, name)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="", help="target name(s) from conf/targets.yaml, comma-separated")
    p.add_argument("--target-filter", action="append", default=[],
                   help="inline target COL=VALUE[|VALUE] (repeatable)")
    p.add_argument("--pool", required=True, help="features Delta table of the pool")
    p.add_argument("--output", required=True, help="selection Delta table to write")
    p.add_argument("--target-features", help="features table of the targets (default: --pool)")
    p.add_argument("--fraction", type=float, default=_default("fraction"),
                   help=f"token fraction in (0, 1] (default {_default('fraction')})")
    p.add_argument("--neuron-type", default=_default("neuron_type"))
    p.add_argument("--layers", default=_default("layers"), help="all | first | last | comma list of layers")
    p.add_argument("--power", type=float, default=_default("power"),
                   help="exponent on the profile's raw weights (the target counts, for paper)")
    p.add_argument("--profile-weighting", default=_default("profile_weighting"),
                   choices=PROFILE_WEIGHTINGS,
                   help="paper: normalised target counts (default); log-ratio / tfidf: each "
                        "neuron's target frequency weighed against its pool frequency")
    p.add_argument("--top-k", type=int, default=_default("top_k"), metavar="k",
                   help="score with the first k <= K indices of each layer's NAG (default: all K)")
    p.add_argument("--quality-col", help="pool column blended with the distance")
    p.add_argument("--invert-quality", action="store_true", help="quality is higher-is-better")
    p.add_argument("--dedupe", action="store_true", help="drop docids already kept by an earlier target")
    p.add_argument("--payload-cols", default="", help="pool columns to copy into the selection")
    p.add_argument("--scan", default=_default("scan"), choices=SCAN_MODES,
                   help="who reads the pool's NAGs: direct = the Python workers read the pinned "
                        "version's files (several times faster); spark = Spark's reader; auto "
                        "(default) = direct where the table allows it (a local or mounted path, "
                        "no deletion vectors, column mapping or partitions), else spark")
    p.add_argument("--mode", default=_default("mode"), choices=["overwrite", "error"],
                   help=f"when the output table exists (default {_default('mode')}: a new version)")
    p.add_argument("--targets-file", help="target definitions (default conf/targets.yaml)")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml Spark settings")
    p.add_argument("--experiment", help="MLflow experiment (default nag-spark)")
    p.add_argument("--run-name", help="MLflow run name")
    args = p.parse_args(argv)
    if args.invert_quality and not args.quality_col:
        p.error("--invert-quality goes with --quality-col")
    return args


def options(args: argparse.Namespace) -> RankOptions:
    """The frozen options of a parsed command line."""
    return RankOptions(
        targets=list(comma_list(args.target)) + args.target_filter, pool=args.pool,
        output=args.output, target_features=args.target_features, fraction=args.fraction,
        neuron_type=args.neuron_type, layers=args.layers, power=args.power,
        profile_weighting=args.profile_weighting, top_k=args.top_k,
        quality_col=args.quality_col, invert_quality=args.invert_quality, dedupe=args.dedupe,
        payload_cols=comma_list(args.payload_cols), experiment=args.experiment,
        run_name=args.run_name, mode=args.mode, targets_file=args.targets_file, scan=args.scan)


def main_body(argv=None) -> int:
    from nag_spark.session import get_spark
    from nag_spark.spark.rank import run_ranking

    args = parse_args(argv)
    spark = get_spark(args.profile, app_name="nag-spark-rank")
    result = run_ranking(spark, options(args))
    for t in result.targets:
        print(f"{t.name}: {t.selected_docs} docs, {t.selected_tokens} tokens "
              f"(budget {t.budget}, boundary {t.boundary:.6f})")
    print(f"selection: {result.output_path}@v{result.output_version}  mlflow run {result.run_id}")
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
