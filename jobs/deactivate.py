"""Switch off a target's most NAG-frequent neurons and measure the loss on its texts.

    spark-submit jobs/deactivate.py --target hellaswag --features /data/features/targets \
        --docs targets.parquet [--n-texts 64] [--max-length N] [--per-layer N | --share 0.0012] \
        [--seed 0] [--model M] [--dtype float32] [--device cpu] [--experiment NAME]

Also runs as ``python jobs/deactivate.py ...``. The paper's analysis: zero the ``up_proj``
rows of the most frequent ``fwd_up`` neurons of the target (default 0.12% of them) and
compare the next-token loss on the target texts with the loss when as many random neurons
are off. The run is an MLflow run tagged ``nag.kind=deactivate``.
"""
from __future__ import annotations

import argparse
import os
import sys

# The checkout first on sys.path (a checkout run as `python jobs/...` finds the package), and
# this folder off it, where jobs/select.py would shadow the standard library's `select`.
_JOBS = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_JOBS)] + [p for p in sys.path if os.path.abspath(p or os.curdir) != _JOBS]

from nag_spark.analysis.deactivation_options import DeactivateOptions  # noqa: E402
from nag_spark.cli import default_of, run_job  # noqa: E402
from nag_spark.config import DEFAULT_PROFILE  # noqa: E402
from nag_spark.spark.inputs import FORMATS  # noqa: E402


def _default(name: str):
    return default_of(DeactivateOptions, name)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, help="name from conf/targets.yaml or COL=VALUE")
    p.add_argument("--features", required=True, help="features Delta table with the target rows (fwd_up)")
    p.add_argument("--docs", required=True,
                   help="documents the features were extracted from (parquet/JSONL/Delta: docid, doc)")
    p.add_argument("--format", default=_default("fmt"), choices=list(FORMATS), help="layout of --docs")
    p.add_argument("--n-texts", type=int, default=_default("n_texts"),
                   help=f"target texts measured (default {_default('n_texts')})")
    p.add_argument("--max-length", type=int, help="tokens per text (default: the features' max_length)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--per-layer", type=int, help="neurons switched off per layer")
    group.add_argument("--share", type=float, help="share of each layer's neurons (default 0.0012)")
    p.add_argument("--seed", type=int, default=_default("seed"), help="seed of the random control")
    p.add_argument("--model", help="load the model from here (default: the features' nag.model)")
    p.add_argument("--dtype", default=_default("dtype"), choices=["float32", "bfloat16", "auto"])
    p.add_argument("--device", default=_default("device"), help="cpu, cuda[:N] or auto")
    p.add_argument("--batch-size", type=int, default=_default("batch_size"), help="texts per forward pass")
    p.add_argument("--targets-file", help="target definitions (default conf/targets.yaml)")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="conf/<profile>.yaml Spark settings")
    p.add_argument("--experiment", help="MLflow experiment (default nag-spark)")
    p.add_argument("--run-name", help="MLflow run name")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    return p.parse_args(argv)


def main_body(argv=None) -> int:
    from nag_spark.analysis.deactivation_run import format_effect, run_deactivation
    from nag_spark.config import resolve_target
    from nag_spark.session import get_spark

    args = parse_args(argv)
    opts = DeactivateOptions(
        target=args.target, features=args.features, docs=args.docs, fmt=args.format,
        n_texts=args.n_texts, max_length=args.max_length, per_layer=args.per_layer,
        share=args.share, seed=args.seed, model=args.model, dtype=args.dtype,
        device=args.device, batch_size=args.batch_size, targets_file=args.targets_file,
        experiment=args.experiment, run_name=args.run_name, track=not args.no_mlflow)
    # An unknown target is reported before Spark starts (seconds saved on a typo).
    resolve_target(args.target, args.targets_file)
    spark = get_spark(args.profile, app_name="nag-spark-deactivate")
    result = run_deactivation(spark, opts)
    print(format_effect(result))
    if result.run_id:
        print(f"mlflow run {result.run_id}")
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
