"""Is the selection any good? NAG variants against random and cheap baselines, by the loss
of a proxy LM trained on each selection (issue 12's benchmark).

    python bench/selection_quality.py [--pool-docs 5000] [--seeds 3] [--tokens 100000]

On ``../shared/data`` (``bench/selection_data.py`` makes the sample and its SmolLM2-135M
features once, ~30 min on 2 cores): a stratified pool sample, and for each of the six paper
targets (hellaswag, arc_c, mmlu, triviaqa, xstorycloze, xwinograd) its profile rows and a
held-out eval split. Every method selects ``--fraction`` (0.2) of the pool's tokens:

- ``nag``: the paper's profile (``jobs/rank.py``); ``nag-contrastive``: ``--profile-weighting
  log-ratio``; ``nag-last``: ``--layers last``; ``nag-mixture``: the six targets at once,
  each ``fraction / 6`` (one selection for all targets);
- ``random`` (3 seeds, target-independent), ``dsir`` (length-normalised), ``bm25``,
  ``embedding`` (all-MiniLM-L6-v2 centroid) from ``jobs/select.py``.

Then one ``run_evaluation`` trains the tiny proxy on exactly ``--tokens`` tokens of every
selection with ``--seeds`` seeds and scores every eval split (so each selection is also seen
on the other targets' texts). The table: per target, each method's mean eval loss (nats per
token) ± the std over seeds, its difference against random with the noise of that
difference (Welch's standard error over the random selections' 3 x seeds runs and the
method's seeds; "beyond noise" is more than 2 of it), and the selection's top sources.
The JSON of every number goes to ``--output-json``.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from selection_data import TARGETS, prepare  # noqa: E402

NAG_VARIANTS = {"nag": {}, "nag-contrastive": {"profile_weighting": "log-ratio"},
                "nag-last": {"layers": "last"}}
# The paper's other levers (--levers): the count power, and K from the first k of K=20.
LEVERS = {"nag-power2": {"power": 2.0}, "nag-k5": {"top_k": 5}}
BASELINES = ("dsir", "bm25", "embedding")
SHARED = ("nag-mixture", "random-0", "random-1", "random-2")


def make_selections(spark, data: Path, out: Path, targets, fraction: float) -> dict[tuple, str]:
    """``{(method, target or None): selection table}``, made by the real jobs' functions."""
    from nag_spark.spark.rank import run_ranking
    from nag_spark.spark.rank.options import RankOptions
    from nag_spark.spark.select import run_selection
    from nag_spark.spark.select.options import SelectOptions

    tables: dict[tuple, str] = {}
    pool_f, tgt_f = str(data / "pool_features"), str(data / "target_features")
    common = dict(pool_docs=str(data / "pool.parquet"), target_docs=str(data / "targets.parquet"),
                  fraction=fraction, track=False)
    for t in targets:
        spec = f"dataset={t}_profile"
        for name, levers in NAG_VARIANTS.items():
            path = str(out / name / t)
            run_ranking(spark, RankOptions(targets=[spec], pool=pool_f, target_features=tgt_f,
                                           output=path, fraction=fraction, experiment="bench-quality",
                                           **levers))
            tables[(name, t)] = path
        for method in BASELINES:
            path = str(out / method / t)
            run_selection(spark, SelectOptions(method=method, target=spec, output=path, **common))
            tables[(method, t)] = path
    path = str(out / "nag-mixture")
    run_ranking(spark, RankOptions(targets=[f"dataset={t}_profile" for t in targets], pool=pool_f,
                                   target_features=tgt_f, output=path, fraction=fraction,
                                   experiment="bench-quality"))
    tables[("nag-mixture", None)] = path
    for seed in range(3):
        path = str(out / f"random-{seed}")
        run_selection(spark, SelectOptions(method="random", target=f"dataset={targets[0]}_profile",
                                           output=path, seed=seed, **common))
        tables[(f"random-{seed}", None)] = path
    return tables


def top_sources(path: str, n: int = 3) -> str:
    from deltalake import DeltaTable

    t = DeltaTable(path).to_pyarrow_table(columns=["dataset", "token_num"]).to_pandas()
    shares = t.groupby("dataset")["token_num"].sum().sort_values(ascending=False) / t["token_num"].sum()
    return ", ".join(f"{ds} {share:.0%}" for ds, share in shares.head(n).items())


def welch(a: list[float], b: list[float]) -> float:
    va = statistics.variance(a) if len(a) > 1 else 0.0
    vb = statistics.variance(b) if len(b) > 1 else 0.0
    return math.sqrt(va / len(a) + vb / len(b))


def summarise(results: list[dict], tables: dict, targets) -> tuple[list[dict], str]:
    by = {(r["selection"], r["eval"]): r for r in results}
    rows, lines = [], []
    lines.append("| target | method | eval loss (mean ± std) | vs random (± noise) | beyond noise | top sources |")
    lines.append("|---|---|---|---|---|---|")
    for t in targets:
        label = f"dataset={t}_eval"
        rand = [x for s in range(3) for x in by[(tables[(f"random-{s}", None)], label)]["losses"]]
        r_mean = statistics.fmean(rand)
        methods = [*(m for m in NAG_VARIANTS), "nag-mixture", *BASELINES]
        lines.append(f"| {t} | random (3 selections) | {r_mean:.4f} ± {statistics.pstdev(rand):.4f} "
                     f"| | | {top_sources(tables[('random-0', None)])} |")
        for m in methods:
            path = tables[(m, None if m == "nag-mixture" else t)]
            losses = by[(path, label)]["losses"]
            mean = statistics.fmean(losses)
            diff, noise = mean - r_mean, welch(losses, rand)
            beyond = abs(diff) > 2 * noise
            rows.append({"target": t, "method": m, "loss_mean": mean,
                         "loss_std": statistics.pstdev(losses), "losses": losses,
                         "diff_vs_random": diff, "noise": noise, "beyond_noise": beyond,
                         "random_mean": r_mean, "sources": top_sources(path)})
            lines.append(f"| {t} | {m} | {mean:.4f} ± {statistics.pstdev(losses):.4f} | {diff:+.4f} "
                         f"(± {noise:.4f}) | {'yes' if beyond else 'no'} | {rows[-1]['sources']} |")
    return rows, "\n".join(lines)


def verdict(rows: list[dict], targets) -> str:
    nag_wins = [t for t in targets if any(r["target"] == t and r["method"] == "nag"
                                          and r["diff_vs_random"] < 0 and r["beyond_noise"] for r in rows)]
    best_beats = []
    for t in targets:
        mine = {r["method"]: r["loss_mean"] for r in rows if r["target"] == t}
        best = min(mine[m] for m in (*NAG_VARIANTS, "nag-mixture"))
        if all(best < mine[b] for b in BASELINES):
            best_beats.append(t)
    return (f"NAG (paper profile) beats random beyond noise on {len(nag_wins)} of {len(targets)} "
            f"targets ({', '.join(nag_wins) or 'none'}); the best NAG variant beats every baseline "
            f"on {len(best_beats)} of {len(targets)} ({', '.join(best_beats) or 'none'}).")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool-docs", type=int, default=5000)
    p.add_argument("--profile-docs", type=int, default=300)
    p.add_argument("--eval-docs", type=int, default=300)
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--fraction", type=float, default=0.2)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tokens", type=int, default=100_000, help="proxy training tokens per selection")
    p.add_argument("--levers", action="store_true", help=f"also {', '.join(LEVERS)}")
    p.add_argument("--work", default=None, help="where selections go (default: a temp folder)")
    p.add_argument("--output-json", default=None)
    args = p.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    if args.levers:
        NAG_VARIANTS.update(LEVERS)

    import os
    import tempfile

    from nag_spark.evaluate.options import EvaluateOptions
    from nag_spark.evaluate.run import run_evaluation
    from nag_spark.session import get_spark

    data = prepare(args.pool_docs, args.profile_docs, args.eval_docs)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    # Ranking always records an MLflow run: keep them with the bench's tables.
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlruns.db'}")
    spark = get_spark("local", app_name="bench-selection-quality")
    try:
        started = time.perf_counter()
        tables = make_selections(spark, data, work / "selections", targets, args.fraction)
        selected = time.perf_counter() - started
        ev = run_evaluation(spark, EvaluateOptions(
            selections=tuple(tables.values()), pool_docs=str(data / "pool.parquet"),
            eval_docs=str(data / "eval.parquet"), target_docs=str(data / "targets.parquet"),
            eval_filters=tuple(f"dataset={t}_eval" for t in targets), tokens=args.tokens,
            seeds=args.seeds, track=False, output_json=str(work / "evaluation.json")))
        evaluated = time.perf_counter() - started - selected
    finally:
        spark.stop()
    rows, table = summarise(ev.results, tables, targets)
    print(f"\npool sample {args.pool_docs} docs, fraction {args.fraction}, proxy tiny trained on "
          f"{ev.train_tokens} tokens per selection, {args.seeds} seeds; selections {selected:.0f}s, "
          f"evaluation {evaluated:.0f}s\n")
    print(table)
    print("\n" + verdict(rows, targets))
    if args.output_json:
        Path(args.output_json).write_text(json.dumps({"rows": rows, "results": ev.results,
                                                      "train_tokens": ev.train_tokens}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
