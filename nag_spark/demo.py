"""``make demo``: the whole pipeline on a small self-made sample, end to end.

1. writes the sample (``nag_spark.demo_data``) as parquet,
2. extracts SmolLM2-135M NAG features of the targets and the pool into Delta tables,
3. ranks the pool for two targets (HellaSwag-like stories, ARC-like science questions),
4. prints what a user wants to see: the tables, the budget, what was selected and why.

Everything goes under ``--output`` (default ``demo-output/``), MLflow runs included. A second
run re-uses the features (extraction resumes: nothing left to do) and re-ranks.
"""
from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

DEMO_TARGETS = ("hellaswag", "arc_c")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="nag-spark demo on a built-in sample")
    p.add_argument("--output", default="demo-output", help="folder for data, tables and runs")
    p.add_argument("--fraction", type=float, default=0.2, help="share of pool tokens to keep")
    return p.parse_args(argv)


def _rule(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)))


def _short(text: str, width: int = 68) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _show_features(path: Path) -> None:
    """Read the features table back with delta-rs, independently of Spark."""
    from deltalake import DeltaTable

    from .tables.features import FeaturesLineage
    from .tables.nag_codec import index_rows

    table = DeltaTable(str(path))
    lineage = FeaturesLineage.from_properties(table.metadata().configuration, str(path))
    df = table.to_pandas()
    layers, k = lineage.require("num_layers"), lineage.require("top_k")
    first = index_rows(df["fwd_up"].iloc[:1], layers * k, "fwd_up")[0]
    print(f"  {path}: Delta version {table.version()}, {len(df)} documents; model "
          f"{lineage.model} ({lineage.architecture}), L={layers}, K={k}, "
          f"N={lineage.n_neurons.get('fwd_up')}, dtype {lineage.dtype}")
    print(f"  a NAG is {len(first)} neuron indices (L x K, layer-major, stored bit-packed); "
          f"{df['docid'].iloc[0]} layer 0: {[int(i) for i in first[:8]]} ...")


def _show_selection(result, sample, pool_tokens_by_dataset) -> None:
    from deltalake import DeltaTable

    sel = DeltaTable(result.output_path).to_pandas().sort_values(["target", "rank"])
    for outcome in result.targets:
        rows = sel[sel["target"] == outcome.name]
        print(f"\n  target {outcome.name} ({outcome.spec}, {outcome.n_target_rows} examples): "
              f"kept {outcome.selected_docs} of {result.pool_docs} documents, "
              f"{outcome.selected_tokens} of {outcome.budget} budget tokens "
              f"(pool {result.pool_tokens}); boundary distance {outcome.boundary:.4f}")
        merged = rows.merge(sample[["docid", "doc"]], on="docid", how="left")
        print("  closest documents:")
        for _, r in merged.head(5).iterrows():
            print(f"    #{int(r['rank']):<3} d={r['nag_distance']:.4f} {r['dataset']:<13} {_short(r['doc'])}")
        share = rows.groupby("dataset")["token_num"].sum() / max(1, rows["token_num"].sum())
        pool_share = pool_tokens_by_dataset / pool_tokens_by_dataset.sum()
        print("  token share by source   selected   pool")
        for name in pool_share.sort_values(ascending=False).index:
            print(f"    {name:<20} {100 * share.get(name, 0.0):8.1f}% {100 * pool_share[name]:6.1f}%")


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{out / 'mlruns.db'}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import pandas as pd

    from .demo_data import write_demo_sample
    from .errors import NagError
    from .session import get_spark
    from .spark.extract import ExtractOptions, run_extraction
    from .spark.rank import RankOptions, run_ranking

    started = time.time()
    pool_path, targets_path = write_demo_sample(out / "data")
    pool_frame = pd.read_parquet(pool_path)
    sample = pd.concat([pool_frame, pd.read_parquet(targets_path)])
    pool_tokens = pool_frame.groupby("dataset")["token_num"].sum()
    _rule("nag-spark demo")
    print(textwrap.fill(
        f"A {len(pool_frame)}-document pool (news, forum posts, recipes, code, "
        "science facts, everyday stories) and two small targets, HellaSwag-like stories and "
        "ARC-like science questions, all made up by nag_spark/demo_data.py. SmolLM2-135M "
        "(bundled GGUF) gives every document its NAG; each target's profile ranks the pool "
        f"and the closest {args.fraction:.0%} of the pool's tokens is kept.", 80))
    try:
        spark = get_spark("local", app_name="nag-demo")
        features = {}
        _rule("1. extract NAG features (Spark pandas UDF, model cached per worker)")
        for name, src in (("targets", targets_path), ("pool", pool_path)):
            features[name] = out / "features" / name
            res = run_extraction(spark, ExtractOptions(
                input=str(src), output=str(features[name]), experiment="nag-demo",
                run_name=f"demo-extract-{name}", progress_seconds=10.0))
            print(f"  {name}: {res.docs_processed} extracted, {res.docs_already_present} already "
                  f"present, {res.docs_per_s:.1f} docs/s -> table version {res.version}")
            _show_features(features[name])

        _rule("2. rank the pool for each target (broadcast profile, exact token budget)")
        results = []
        for target in DEMO_TARGETS:
            result = run_ranking(spark, RankOptions(
                targets=[target], pool=str(features["pool"]),
                target_features=str(features["targets"]),
                output=str(out / "selections" / target), fraction=args.fraction,
                experiment="nag-demo", run_name=f"demo-rank-{target}"))
            results.append(result)
            _show_selection(result, sample, pool_tokens)

    except NagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    _rule("where things are")
    print(f"  Delta tables: {out / 'features'}, {out / 'selections'}")
    for r in results:
        print(f"  MLflow rank run {r.run_id} -> {r.output_path} v{r.output_version}")
    print(f"  browse runs: .venv/bin/mlflow ui --backend-store-uri {os.environ['MLFLOW_TRACKING_URI']}")
    print(f"  compare:     .venv/bin/python jobs/compare.py --experiment nag-demo --last 2 "
          f"--tracking-uri {os.environ['MLFLOW_TRACKING_URI']} --output {out / 'compare'}")
    print(f"\ndone in {time.time() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
