"""Select from a pool of documents with a baseline (random, DSIR, BM25, embeddings), with the
same exact token budget and selection table as NAG ranking.

    spark-submit jobs/select.py --method random|dsir|bm25|embedding --target hellaswag \
        --pool-docs DOCS --target-docs DOCS --output PATH [--fraction 0.2] [--seed N] \
        [--no-dsir-length-norm] [--payload-cols COLS] [--profile local] [--experiment NAME]

Also runs as ``python jobs/select.py ...``. DOCS are text tables (parquet, JSONL or Delta:
docid, doc, [dataset], [token_num]) read as ``jobs/extract.py`` reads them. Targets resolve
through conf/targets.yaml; ``--target-filter COL=VALUE`` defines one inline. The selection
is a Delta table with a ``score`` column; the run is an MLflow run tagged ``nag.kind=select``.
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
from nag_spark.spark.select.options import METHODS, SelectOptions  # noqa: E402


def _default(name: str):
    return default_of(SelectOptions, name)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=list(METHODS), help="the baseline")
    p.add_argument("--target", default="", help="target name from conf/targets.yaml")
    p.add_argument("--target-filter", help="inline target COL=VALUE[|VALUE] (instead of --target)")
    p.add_argument("--pool-docs", required=True, help="text table of the pool (parquet, JSONL, Delta)")
    p.add_argument("--target-docs", help="text table holding the target rows (default: --pool-docs)")
    p.add_argument("--output", required=True, help="selection Delta table to write")
    p.add_argument("--fraction", type=float, default=_default("fraction"),
                   help=f"token fraction in (0, 1] (default {_default('fraction')})")
    p.add_argument("--seed", type=int, default=_default("seed"), help="seed of --method random")
    p.add_argument("--dsir-length-norm", action=argparse.BooleanOptionalAction,
                   default=_default("dsir_length_norm"),
                   help="DSIR: mean log weight per n-gram (default) instead of the sum")
    p.add_argument("--dsir-ngrams", type=int, default=_default("dsir_ngrams"))
    p.add_argument("--dsir-buckets", type=int, default=_default("dsir_buckets"))
    p.add_argument("--bm25-k1", type=float, default=_default("bm25_k1"))
    p.add_argument("--bm25-b", type=float, default=_default("bm25_b"))
    p.add_argument("--embedding-batch", type=int, default=_default("embedding_batch"))
    p.add_argument("--token-model", default=_default("token_model"),
                   help="tokenizer counting token_num when the docs have none")
    p.add_argument("--payload-cols", default="", help="pool columns to copy into the selection")
    p.add_argument("--mode", default=_default("mode"), choices=["overwrite", "error"],
                   help=f"when the output table exists (default {_default('mode')}: a new version)")
    p.add_argument("--targets-file", help="target definitions (default conf/targets.yaml)")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml Spark settings")
    p.add_argument("--experiment", help="MLflow experiment (default nag-spark)")
    p.add_argument("--run-name", help="MLflow run name")
    p.add_argument("--no-mlflow", action="store_true", help="do not record an MLflow run")
    args = p.parse_args(argv)
    if bool(args.target) == bool(args.target_filter):
        p.error("give one target: --target NAME or --target-filter COL=VALUE")
    return args


def options(args: argparse.Namespace) -> SelectOptions:
    """The frozen options of a parsed command line."""
    return SelectOptions(
        method=args.method, target=args.target or args.target_filter, pool_docs=args.pool_docs,
        target_docs=args.target_docs or args.pool_docs, output=args.output,
        fraction=args.fraction, seed=args.seed, dsir_length_norm=args.dsir_length_norm,
        dsir_ngrams=args.dsir_ngrams, dsir_buckets=args.dsir_buckets, bm25_k1=args.bm25_k1,
        bm25_b=args.bm25_b, embedding_batch=args.embedding_batch, token_model=args.token_model,
        payload_cols=comma_list(args.payload_cols), experiment=args.experiment,
        run_name=args.run_name, track=not args.no_mlflow, mode=args.mode,
        targets_file=args.targets_file)


def main_body(argv=None) -> int:
    from nag_spark.session import get_spark
    from nag_spark.spark.select import run_selection

    args = parse_args(argv)
    spark = get_spark(args.profile, app_name="nag-spark-select")
    res = run_selection(spark, options(args))
    print(f"{res.method} {res.target}: {res.selected_docs} docs, {res.selected_tokens} tokens "
          f"(budget {res.budget}) from {res.pool_docs} pool docs")
    print(f"selection: {res.output_path}@v{res.output_version}  mlflow run {res.run_id}")
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
