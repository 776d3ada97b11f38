"""Extract NAG features of documents into a Delta table (the model is cached per executor).

    spark-submit jobs/extract.py --input docs.parquet --output features/pool
    python jobs/extract.py --input docs.jsonl --output features/pool --limit 1000

Input: a parquet file or folder, JSONL, or a Delta table, in ``--format web`` (docid, doc,
[token_num], [dataset]) or ``final`` (meta.docid, content_split). Re-running the same
command processes only docids not yet in the output table. Each run is an MLflow run
(``MLFLOW_TRACKING_URI``, else ./mlruns.db).
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
from nag_spark.models.device import DEVICE_CHOICES  # noqa: E402
from nag_spark.models.dtype import DTYPES  # noqa: E402
from nag_spark.spark.extract import ExtractOptions  # noqa: E402
from nag_spark.spark.inputs import FORMATS  # noqa: E402
from nag_spark.tracking.runs import DEFAULT_EXPERIMENT  # noqa: E402


def _default(name: str):
    return default_of(ExtractOptions, name)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="parquet file/folder, JSONL, or Delta table")
    p.add_argument("--output", required=True, help="features Delta table (created or resumed)")
    p.add_argument("--format", default=_default("format"), choices=list(FORMATS), help="input layout")
    p.add_argument("--model", default=_default("model"),
                   help=f"{_default('model')} (default), a model folder, a hub id, or FILE.gguf")
    types = ",".join(comma_list(_default("neuron_types")))
    p.add_argument("--neuron-types", default=types,
                   help=f"comma list of fwd_up,fwd_down,att_q,att_k,att_v,att_o (default {types})")
    p.add_argument("--top-k", type=int, default=_default("top_k"),
                   help=f"neurons kept per layer (default {_default('top_k')})")
    p.add_argument("--max-length", type=int, default=_default("max_length"),
                   help=f"tokens per document (default {_default('max_length')})")
    p.add_argument("--dtype", default=_default("dtype"), choices=list(DTYPES))
    p.add_argument("--batch-tokens", type=int, help="padded tokens per forward pass (profile default)")
    p.add_argument("--chunk-docs", type=int, help="documents per committed chunk (profile default)")
    p.add_argument("--device", choices=list(DEVICE_CHOICES), help="override the profile's device")
    p.add_argument("--carry", default="", help="comma list of extra input columns to keep")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml: local, cluster-gpu, databricks")
    p.add_argument("--limit", type=int, help="only the first N input rows")
    p.add_argument("--experiment", help=f"MLflow experiment (default {DEFAULT_EXPERIMENT})")
    p.add_argument("--run-name", help="MLflow run name")
    p.add_argument("--no-mlflow", action="store_true", help="do not record an MLflow run")
    return p.parse_args(argv)


def main_body(argv=None) -> int:
    from nag_spark.session import get_spark
    from nag_spark.spark.extract import run_extraction

    args = parse_args(argv)
    spark = get_spark(args.profile, app_name="nag-extract")
    result = run_extraction(spark, ExtractOptions(
        input=args.input, output=args.output, format=args.format, model=args.model,
        neuron_types=args.neuron_types, top_k=args.top_k, max_length=args.max_length,
        dtype=args.dtype, batch_tokens=args.batch_tokens, chunk_docs=args.chunk_docs,
        device=args.device, limit=args.limit, carry=comma_list(args.carry),
        experiment=args.experiment, run_name=args.run_name, track=not args.no_mlflow,
    ))
    print(f"extracted {result.docs_processed} documents ({result.docs_already_present} already "
          f"present) into {result.output} version {result.version}: {result.docs_per_s:.2f} docs/s, "
          f"{result.tokens_per_s:.0f} tokens/s")
    return 0


def main(argv=None) -> int:
    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
