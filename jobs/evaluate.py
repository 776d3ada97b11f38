"""Evaluate selections: train a proxy LM on each (equal tokens) and score held-out texts.

    spark-submit jobs/evaluate.py --selections PATH[,PATH...] --pool-docs DOCS \
        --eval-docs DOCS --eval-filter dataset=hellaswag_val [--eval-filter ...] \
        [--proxy tiny|smollm2-135m] [--tokens N] [--seeds 3] [--output-json FILE] \
        [--target-docs DOCS] [--target NAME | --per-target] [--short refuse|repeat] \
        [--profile local] [--experiment NAME] [--run-name NAME] [--no-mlflow]

Also runs as ``python jobs/evaluate.py ...``. Spark reads the tables and joins the
selections with the pool text; the proxy trains on the driver. Every selection trains on
the same N tokens (``--tokens``, default the shortest selection's). Eval texts that share a
docid or normalised text with a selection's target examples (``--target-docs``, default
``--eval-docs``) or with the selection are refused. The run is an MLflow run tagged
``nag.kind=evaluate`` linked to each selection's rank run.
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
from nag_spark.evaluate.options import PROXIES, EvaluateOptions  # noqa: E402
from nag_spark.evaluate.tokens import SHORT_RULES  # noqa: E402


def _default(name: str):
    return default_of(EvaluateOptions, name)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--selections", required=True, help="selection Delta table(s), comma-separated")
    p.add_argument("--pool-docs", required=True, help="text table (docid, doc) of the pool")
    p.add_argument("--eval-docs", required=True, help="text table holding the eval texts")
    p.add_argument("--eval-filter", action="append", default=[], required=True,
                   help="eval set COL=VALUE[|VALUE] (repeatable: one eval set each)")
    p.add_argument("--target-docs", help="text table of the target examples (default --eval-docs)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--target", help="evaluate only this target's rows of each selection")
    which.add_argument("--per-target", action="store_true",
                       help="evaluate each target of a multi-target selection on its own")
    p.add_argument("--proxy", default=_default("proxy"), choices=PROXIES)
    p.add_argument("--tokens", type=int, help="training tokens per selection (default: the "
                   "shortest selection's)")
    p.add_argument("--short", default=_default("short"), choices=SHORT_RULES,
                   help="a selection with fewer than --tokens tokens: refuse, or repeat its text")
    p.add_argument("--seeds", type=int, default=_default("seeds"))
    p.add_argument("--eval-max-docs", type=int, default=_default("eval_max_docs"),
                   help="eval texts per eval set, a fixed sample (0: all)")
    p.add_argument("--seq-len", type=int, default=_default("seq_len"))
    p.add_argument("--batch", type=int, default=_default("batch"))
    p.add_argument("--lr", type=float, help="peak learning rate (default 3e-3 tiny, 1e-5 smollm2-135m)")
    p.add_argument("--output-json", help="write the results here")
    p.add_argument("--targets-file", help="target definitions (default conf/targets.yaml)")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml Spark settings")
    p.add_argument("--experiment", help="MLflow experiment (default nag-spark)")
    p.add_argument("--run-name", help="MLflow run name")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    return p.parse_args(argv)


def options(args: argparse.Namespace) -> EvaluateOptions:
    """The frozen options of a parsed command line."""
    return EvaluateOptions(
        selections=comma_list(args.selections), pool_docs=args.pool_docs,
        eval_docs=args.eval_docs, eval_filters=tuple(args.eval_filter),
        target_docs=args.target_docs, target=args.target, per_target=args.per_target,
        proxy=args.proxy, tokens=args.tokens, short=args.short, seeds=args.seeds,
        eval_max_docs=args.eval_max_docs or None, seq_len=args.seq_len, batch=args.batch,
        lr=args.lr, output_json=args.output_json, experiment=args.experiment,
        run_name=args.run_name, track=not args.no_mlflow, targets_file=args.targets_file)


def main_body(argv=None) -> int:
    from nag_spark.evaluate.run import run_evaluation
    from nag_spark.session import get_spark

    args = parse_args(argv)
    opts = options(args)
    opts.check()
    spark = get_spark(args.profile, app_name="nag-spark-evaluate")
    result = run_evaluation(spark, opts)
    for r in result.results:
        print(f"{r['label']} on {r['eval']}: loss {r['loss_mean']:.4f} ± {r['loss_std']:.4f} "
              f"nats/token ({r['seeds']} seeds, {r['train_tokens']} tokens); bigram "
              f"{r['ngram_loss']:.4f}; dsir_kl {r['dsir_kl']:.4f}")
    if result.run_id:
        print(f"mlflow run {result.run_id}")
    if result.output_json:
        print(f"results: {result.output_json}")
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
