"""2-D map of NAGs coloured by dataset (PCA then t-SNE, or UMAP when installed).

    spark-submit jobs/visualize.py --pool features/pool --targets features/targets \
        --target hellaswag --output viz/

Samples at most ``--max-points`` NAGs in Spark (per-dataset quota, deterministic by
``--seed``), embeds them on the driver, writes ``nag_map.png`` and ``nag_map_points.csv``
to ``--output`` and logs them to an MLflow run of kind ``visualize``. Needs scikit-learn:
``pip install 'nag-spark[viz]'``.
"""
from __future__ import annotations

import argparse
import os
import sys

# The checkout first on sys.path (a checkout run as `python jobs/...` finds the package), and
# this folder off it, where jobs/select.py would shadow the standard library's `select`.
_JOBS = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_JOBS)] + [p for p in sys.path if os.path.abspath(p or os.curdir) != _JOBS]

from nag_spark.analysis.nag_embedding import METHODS  # noqa: E402
from nag_spark.analysis.nag_map import NagMapOptions  # noqa: E402
from nag_spark.cli import default_of, run_job  # noqa: E402
from nag_spark.config import DEFAULT_PROFILE  # noqa: E402


def _default(name: str):
    return default_of(NagMapOptions, name)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pool", required=True, help="pool features Delta table")
    p.add_argument("--targets", help="target features Delta table (optional)")
    p.add_argument("--target", help="keep only this target's rows (conf/targets.yaml name or COL=VALUE)")
    p.add_argument("--neuron-type", default=_default("neuron_type"))
    p.add_argument("--per-dataset", type=int, default=_default("per_dataset"),
                   help="most NAGs drawn from one dataset")
    p.add_argument("--max-points", type=int, default=_default("max_points"),
                   help="most NAGs in the map (driver memory bound)")
    p.add_argument("--seed", type=int, default=_default("seed"))
    p.add_argument("--method", default=_default("method"), choices=list(METHODS))
    p.add_argument("--tsne-iter", type=int, default=_default("tsne_iter"))
    p.add_argument("--output", required=True, help="folder for the PNG and the points CSV")
    p.add_argument("--experiment", help="MLflow experiment (default nag-spark)")
    p.add_argument("--run-name")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="conf/<profile>.yaml")
    return p.parse_args(argv)


def main_body(argv=None) -> int:
    from nag_spark.analysis.nag_map import nag_map
    from nag_spark.config import resolve_target
    from nag_spark.session import get_spark

    args = parse_args(argv)
    spec = resolve_target(args.target) if args.target else None
    spark = get_spark(args.profile, app_name="nag-spark visualize")
    result = nag_map(spark, NagMapOptions(
        pool=args.pool, targets=args.targets, output_dir=args.output, neuron_type=args.neuron_type,
        target_filter=(spec.column, spec.values) if spec else None,
        per_dataset=args.per_dataset, max_points=args.max_points, seed=args.seed,
        method=args.method, tsne_iter=args.tsne_iter, log_mlflow=not args.no_mlflow,
        experiment=args.experiment, run_name=args.run_name,
    ))
    print(f"NAG map ({result.method}, {len(result.points)} points): {result.figure}"
          + (f"  MLflow run {result.run_id}" if result.run_id else ""))
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
