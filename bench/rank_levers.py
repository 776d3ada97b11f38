"""What the contrastive profile costs: the pool's neuron counts against one ranking pass.

    python bench/rank_levers.py [--docs 1e6] [--layouts bits13,list] [--workdir /tmp/nag-levers-bench]

The synthetic features tables of ``bench/rank_scale.py`` (L=28, K=20, N=6144, skewed neuron
popularity) are generated once per NAG layout with the same documents and a separate target
table. For each layout, after an unreported warm-up ranking, it measures wall time and CPU
seconds of the whole process tree (driver, JVM, Python workers) of:

1. ``pool_frequencies`` alone (the one aggregation a contrastive weighting adds);
2. a ranking with the paper's profile (``--profile-weighting paper``);
3. a ranking with ``--profile-weighting log-ratio`` (its own ``pool_frequencies`` timing too);
4. a ranking with ``--top-k 5 --layers last`` (the paper's levers).

It prints one JSON line per measurement and the ratio of (1) to (2).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _measure(fn) -> tuple[object, dict]:
    from rank_scale import CpuClock

    clock = CpuClock()
    t = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t
    cpu, split = clock.seconds()
    return out, {"wall_s": round(wall, 2), "cpu_s": round(cpu, 1), "cpu_split": split,
                 "load1": round(os.getloadavg()[0], 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=float, default=1e6, help="pool size in documents")
    p.add_argument("--target-docs", type=int, default=10_000)
    p.add_argument("--layouts", default="bits13,list")
    p.add_argument("--workdir", default="/tmp/nag-levers-bench")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)

    from rank_scale import L, K, N, generate

    from nag_spark.delta import read_snapshot
    from nag_spark.session import get_spark
    from nag_spark.spark.rank import RankOptions, run_ranking
    from nag_spark.spark.rank.pool_frequencies import pool_frequencies

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    spark = get_spark("local", app_name="nag-levers-bench",
                      overrides={"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8"})
    n, layouts = int(args.docs), args.layouts.split(",")
    target = work / "target"
    generate({layouts[0]: target}, args.target_docs, target=True)
    pools = {layout: work / f"pool_{layout}" for layout in layouts}
    generate(pools, n)
    warm = {layout: work / f"warm_{layout}" for layout in layouts}
    generate(warm, 100_000)

    def rank(path, out, **levers):
        return run_ranking(spark, RankOptions(targets=["hellaswag"], pool=str(path),
                                              target_features=str(target),
                                              output=str(work / out), fraction=0.2,
                                              experiment="levers-bench", **levers))

    rows = []
    for layout in layouts:
        rank(warm[layout], "warm", profile_weighting="log-ratio")  # JIT, workers, numba caches
        df = read_snapshot(spark, str(pools[layout])).df
        freq, m = _measure(lambda: pool_frequencies(df, "fwd_up", L, K, K, N, range(L)))
        assert freq.n_docs == n
        rows.append(dict(step="pool_frequencies", layout=layout, docs=n, **m))
        for name, levers in (("rank_paper", {}), ("rank_log_ratio", {"profile_weighting": "log-ratio"}),
                             ("rank_top5_last", {"top_k": 5, "layers": "last"})):
            res, m = _measure(lambda: rank(pools[layout], f"sel_{name}", **levers))
            rows.append(dict(step=name, layout=layout, docs=n, **m,
                             timings={k: round(v, 2) for k, v in res.timings.items()}))
        for row in rows[-4:]:
            print(json.dumps(row), flush=True)
        pf, paper = rows[-4], rows[-3]
        print(f"{layout}: pool_frequencies / paper ranking = {pf['wall_s'] / paper['wall_s']:.2f} "
              f"wall, {pf['cpu_s'] / paper['cpu_s']:.2f} CPU", flush=True)
    if not args.keep:
        for path in [target, *pools.values(), *warm.values()]:
            shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
