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
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="parquet file/folder, JSONL, or Delta table")
    p.add_argument("--output", required=True, help="features Delta table (created or resumed)")
    p.add_argument("--format", default="web", choices=["web", "final"], help="input layout")
    p.add_argument("--model", default="smollm2-135m",
                   help="smollm2-135m (default), a model folder, a hub id, or FILE.gguf")
    p.add_argument("--neuron-types", default="fwd_up",
                   help="comma list of fwd_up,fwd_down,att_q,att_k,att_v,att_o (default fwd_up)")
    p.add_argument("--top-k", type=int, default=20, help="neurons kept per layer (default 20)")
    p.add_argument("--max-length", type=int, default=120, help="tokens per document (default 120)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--batch-tokens", type=int, help="padded tokens per forward pass (profile default)")
    p.add_argument("--chunk-docs", type=int, help="documents per committed chunk (profile default)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override the profile's device")
    p.add_argument("--carry", default="", help="comma list of extra input columns to keep")
    p.add_argument("--profile", default="local", help="conf/<profile>.yaml: local, cluster-gpu, databricks")
    p.add_argument("--limit", type=int, help="only the first N input rows")
    p.add_argument("--experiment", help="MLflow experiment (default nag-spark)")
    p.add_argument("--run-name", help="MLflow run name")
    p.add_argument("--no-mlflow", action="store_true", help="do not record an MLflow run")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from nag_spark.errors import NagError
    from nag_spark.session import get_spark
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    args = parse_args(argv)
    try:
        spark = get_spark(args.profile, app_name="nag-extract")
        result = run_extraction(spark, ExtractOptions(
            input=args.input, output=args.output, format=args.format, model=args.model,
            neuron_types=args.neuron_types, top_k=args.top_k, max_length=args.max_length,
            dtype=args.dtype, batch_tokens=args.batch_tokens, chunk_docs=args.chunk_docs,
            device=args.device, limit=args.limit,
            carry=[c.strip() for c in args.carry.split(",") if c.strip()],
            experiment=args.experiment, run_name=args.run_name, track=not args.no_mlflow,
        ))
    except NagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"extracted {result.docs_processed} documents ({result.docs_already_present} already "
          f"present) into {result.output} version {result.version}: {result.docs_per_s:.2f} docs/s, "
          f"{result.tokens_per_s:.0f} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
