"""Regenerate the README's "Compare runs" figure from the real shared sample.

    python docs/make_compare_figure.py docs/compare_runs.png

What it runs, all through the library (nothing here that a user could not run by hand):

1. a fixed sample of ``../shared/data`` (``--data`` or ``NAG_SHARED_DATA``): up to
   ``--pool-per-dataset`` pool documents of every dataset and ``--targets-per-split`` rows
   of ``hellaswag_train`` and ``arc_c_train``, chosen by a hash of ``docid``;
2. SmolLM2-135M ``fwd_up`` features of both (:func:`run_extraction`; resumable, so a
   second call reuses them from ``--work``);
3. three rank runs: HellaSwag with all layers, HellaSwag with the last layer only (the
   paper's ablation) and ARC-Challenge, each at ``--fraction``;
4. :func:`compare_runs` of the three, whose ``overview.png`` is copied to the figure path.

MLflow runs go to a sqlite store inside ``--work`` unless ``MLFLOW_TRACKING_URI`` is set.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path

# A checkout run as `python docs/make_compare_figure.py` finds the package without installing it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET_SPLITS = {"hellaswag": "hellaswag_train", "arc_c": "arc_c_train"}
EXPERIMENT = "compare-figure"
# (run name, target, layers) of the three rank runs.
RANK_RUNS = (("hellaswag", "hellaswag", "all"), ("hellaswag-last-layer", "hellaswag", "last"),
             ("arc_c", "arc_c", "all"))


def write_sample(data: Path, out: Path, pool_per_dataset: int, targets_per_split: int) -> tuple[Path, Path]:
    """The fixed sample as two parquet files in ``out`` (same rows on every machine)."""
    import pandas as pd

    def first_by_hash(df, n):
        key = df["docid"].map(lambda d: hashlib.md5(d.encode()).hexdigest())
        return df.assign(_h=key).sort_values("_h").head(n).drop(columns="_h")

    pool = pd.read_parquet(data / "pool.parquet")
    pool = pd.concat(first_by_hash(g, pool_per_dataset) for _, g in pool.groupby("dataset"))
    targets = pd.read_parquet(data / "targets.parquet")
    targets = pd.concat(first_by_hash(targets[targets.dataset == s], targets_per_split)
                        for s in TARGET_SPLITS.values())
    out.mkdir(parents=True, exist_ok=True)
    pool.to_parquet(out / "pool.parquet", index=False)
    targets.to_parquet(out / "targets.parquet", index=False)
    return out / "pool.parquet", out / "targets.parquet"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("figure", nargs="?", default="docs/compare_runs.png")
    p.add_argument("--data", default=os.environ.get("NAG_SHARED_DATA", "../shared/data"))
    p.add_argument("--work", default="build/compare-figure", help="sample, features, selections, MLflow store")
    p.add_argument("--pool-per-dataset", type=int, default=25)
    p.add_argument("--targets-per-split", type=int, default=100)
    p.add_argument("--fraction", type=float, default=0.2)
    return p.parse_args(argv)


def make_runs(spark, work: Path, pool_in: Path, targets_in: Path, fraction: float) -> list[str]:
    """Extract the sample's features and rank it three ways; returns the rank run ids."""
    from nag_spark.spark.extract import ExtractOptions, run_extraction
    from nag_spark.spark.rank import RankOptions, run_ranking

    feats = {}
    for name, src in (("pool", pool_in), ("targets", targets_in)):
        feats[name] = str(work / "features" / name)
        run_extraction(spark, ExtractOptions(input=str(src), output=feats[name],
                                             experiment=EXPERIMENT, run_name=f"extract {name}"))
    runs = []
    for run_name, target, layers in RANK_RUNS:
        res = run_ranking(spark, RankOptions(
            targets=[target], pool=feats["pool"], target_features=feats["targets"],
            output=str(work / "selections" / run_name), fraction=fraction, layers=layers,
            experiment=EXPERIMENT, run_name=run_name))
        runs.append(res.run_id)
    return runs


def main_body(argv=None) -> int:
    from nag_spark.session import get_spark
    from nag_spark.spark.compare import compare_runs

    args = parse_args(argv)
    work = Path(args.work).resolve()
    data = Path(args.data)
    if not (data / "pool.parquet").is_file():
        print(f"error: no pool.parquet in {data} (pass --data or set NAG_SHARED_DATA)", file=sys.stderr)
        return 2
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    pool_in, targets_in = write_sample(data, work / "sample", args.pool_per_dataset,
                                       args.targets_per_split)
    spark = get_spark("local", app_name="nag-spark compare figure")
    runs = make_runs(spark, work, pool_in, targets_in, args.fraction)
    report = compare_runs(runs, output_dir=work / "compare", spark=spark,
                          compare_experiment=EXPERIMENT)
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report.figures["overview"], args.figure)
    print(f"figure: {args.figure}")
    return 0


def main(argv=None) -> int:
    from nag_spark.cli import run_job

    return run_job(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
