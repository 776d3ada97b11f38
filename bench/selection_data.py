"""The data of ``bench/selection_quality.py``: a pool sample, target profile and eval splits,
and their SmolLM2 features, made once and kept in a cache folder.

``python bench/selection_data.py [--pool-docs 5000] [--profile-docs 300]`` prepares (or
completes: extraction resumes) the folder and prints it. Layout::

    <cache>/pool.parquet          the pool sample (docid, doc, dataset, token_num)
    <cache>/targets.parquet       profile rows of the six paper targets (dataset = <target>_profile)
    <cache>/eval.parquet          held-out eval rows (dataset = <target>_eval)
    <cache>/pool_features         SmolLM2-135M fwd_up features, K=20, max_length 120, fp32
    <cache>/target_features
    <cache>/COMPLETE

Profile rows come from the split the paper's release uses for each target
(``conf/targets.yaml``); eval rows from another split of the same benchmark, so no example
is in both. XWinograd has only its test split: its rows are split in two by a hash of the
docid. The pool sample is stratified over the pool's ``dataset`` labels.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("NAG_SHARED_DATA", REPO.parent / "shared" / "data"))
# target: (profile split, eval split); None: the profile split halved by docid hash.
TARGETS = {
    "hellaswag": ("hellaswag_train", "hellaswag_val"),
    "arc_c": ("arc_c_train", "arc_c_test"),
    "mmlu": ("mmlu_validation", "mmlu_test"),
    "triviaqa": ("triviaqa_train", "triviaqa_validation"),
    "xstorycloze": ("xstorycloze_train", "xstorycloze_eval"),
    "xwinograd": ("xwinograd_test", None),
}
SEED = 20261202


def default_cache(pool_docs: int, profile_docs: int, eval_docs: int) -> Path:
    root = Path(os.environ.get("NAG_BENCH_CACHE", Path.home() / ".cache" / "nag-spark" / "bench"))
    return root / f"selection-p{pool_docs}-t{profile_docs}-e{eval_docs}"


def _hash_half(docid: str) -> int:
    return hashlib.sha256(docid.encode()).digest()[0] & 1


def write_samples(folder: Path, pool_docs: int, profile_docs: int, eval_docs: int) -> None:
    import pandas as pd

    pool = pd.read_parquet(SHARED / "pool.parquet")
    shares = pool["dataset"].value_counts(normalize=True).sort_index()
    parts = []
    for ds, share in shares.items():
        rows = pool[pool["dataset"] == ds]
        parts.append(rows.sample(n=min(len(rows), max(2, round(pool_docs * share))), random_state=SEED))
    sample = pd.concat(parts).sort_values("docid").reset_index(drop=True)
    sample.to_parquet(folder / "pool.parquet", index=False)

    targets = pd.read_parquet(SHARED / "targets.parquet")
    prof, ev = [], []
    for name, (profile_split, eval_split) in TARGETS.items():
        rows = targets[targets["dataset"] == profile_split]
        if eval_split is None:
            half = rows["docid"].map(_hash_half)
            rows, held = rows[half == 0], rows[half == 1]
        else:
            held = targets[targets["dataset"] == eval_split]
        p = rows.sample(n=min(len(rows), profile_docs), random_state=SEED).assign(dataset=f"{name}_profile")
        e = held.sample(n=min(len(held), eval_docs), random_state=SEED).assign(dataset=f"{name}_eval")
        prof.append(p)
        ev.append(e)
    pd.concat(prof).reset_index(drop=True).to_parquet(folder / "targets.parquet", index=False)
    pd.concat(ev).reset_index(drop=True).to_parquet(folder / "eval.parquet", index=False)


def prepare(pool_docs: int = 5000, profile_docs: int = 300, eval_docs: int = 300,
            folder: Path | None = None) -> Path:
    folder = Path(folder or default_cache(pool_docs, profile_docs, eval_docs))
    if (folder / "COMPLETE").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "eval.parquet").is_file():
        write_samples(folder, pool_docs, profile_docs, eval_docs)

    from nag_spark.session import get_spark
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    spark = get_spark("local", app_name="bench-selection-features")
    try:
        # Targets first: they are short and every method needs them.
        for src, out in (("targets.parquet", "target_features"), ("pool.parquet", "pool_features")):
            run_extraction(spark, ExtractOptions(
                input=str(folder / src), output=str(folder / out), model="smollm2-135m",
                neuron_types=("fwd_up",), top_k=20, max_length=120, dtype="float32",
                carry=("token_num",), track=False))
    finally:
        spark.stop()
    (folder / "COMPLETE").write_text("ok\n")
    return folder


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool-docs", type=int, default=5000)
    p.add_argument("--profile-docs", type=int, default=300)
    p.add_argument("--eval-docs", type=int, default=300)
    p.add_argument("--folder", help="cache folder (default under NAG_BENCH_CACHE)")
    args = p.parse_args(argv)
    print(prepare(args.pool_docs, args.profile_docs, args.eval_docs,
                  Path(args.folder) if args.folder else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
