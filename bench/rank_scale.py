"""Ranking at scale on this machine: wall time per million docs, peak memory, kernel speed.

    python bench/rank_scale.py --sizes 1e6,5e6,2e7 [--workdir /tmp/nag-rank-bench]
    python bench/rank_scale.py --kernel-only

For each size a synthetic features table (L=28, K=20, N=6144, log-normal token counts
around 600 tokens/doc, skewed neuron popularity) is generated *in Spark* (each partition
draws its own rows; nothing is held on the driver) and written as Delta, then ranked with
:func:`nag_spark.spark.rank.run_ranking` (target: a slice of the same table). While it
runs, the process tree is sampled every 0.25 s for the peak RSS of the Python driver, the
JVM and the Python workers.

The kernel comparison scores the same arrays with :class:`ProfileScorer` and with a
straightforward per-layer implementation written after the paper's release
(``nag/ranking/nag_similarity.py``: a dict profile per layer, turned into a dense
array and gathered layer by layer with a validity mask), checks they agree to 1e-12 and
reports documents per second on one core.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

L, K, N = 28, 20, 6144


def synth_nags(rng, n: int) -> np.ndarray:
    """Skewed neuron popularity per layer (a few neurons are hit often, as in real NAGs)."""
    raw = (rng.pareto(1.1, size=(n, L, K)) * 200).astype(np.int64) % N
    perm = (np.arange(L)[:, None] * 7919 + np.arange(N)[None, :] * 104729) % N  # per-layer shuffle
    return perm[np.arange(L)[None, :, None], raw].reshape(n, L * K).astype(np.int16)


# ---------------------------------------------------------------- kernel comparison


def release_style_profile(target: np.ndarray) -> list[dict]:
    layered = target.reshape(len(target), L, K)
    prof = []
    for layer in range(L):
        u, c = np.unique(layered[:, layer, :].reshape(-1), return_counts=True)
        w = c.astype(np.float64)
        prof.append(dict(zip(u.tolist(), (w / w.sum()).tolist())))
    return prof


def release_style_similarity(features: np.ndarray, profile: list[dict]) -> np.ndarray:
    """Per layer: dict -> dense array, masked gather, sum (the release's approach)."""
    n = features.shape[0]
    layered = features.reshape(n, L, K).astype(np.int64)
    scores = np.zeros(n)
    for layer in range(L):
        lp = profile[layer]
        if not lp:
            continue
        top = max(lp)
        dense = np.zeros(top + 1)
        for i, w in lp.items():
            dense[int(i)] = w
        m = layered[:, layer, :]
        ok = (m >= 0) & (m <= top)
        scores += (dense[np.where(ok, m, 0)] * ok).sum(axis=1)
    return scores / L


def kernel_bench(n_docs: int, batch: int = 8192, repeats: int = 3) -> dict:
    from nag_spark.kernels.profile import TargetProfile
    from nag_spark.kernels.scoring import ProfileScorer

    rng = np.random.default_rng(0)
    target, pool = synth_nags(rng, 2000), synth_nags(rng, n_docs)
    scorer = ProfileScorer(TargetProfile.from_nags(target, L, K, N))
    prof = release_style_profile(target)

    def run(fn):
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            out = np.concatenate([fn(pool[i:i + batch]) for i in range(0, n_docs, batch)])
            best = min(best, time.perf_counter() - t)
        return out, best

    ours, t_ours = run(scorer.similarity)
    ref, t_ref = run(lambda b: release_style_similarity(b, prof))
    err = float(np.max(np.abs(ours - ref)))
    assert err <= 1e-12, err
    return {"docs": n_docs, "batch": batch, "max_abs_diff": err,
            "ours_docs_per_s_per_core": n_docs / t_ours,
            "release_docs_per_s_per_core": n_docs / t_ref, "speedup": t_ref / t_ours}


# ---------------------------------------------------------------- memory sampling


class TreeSampler(threading.Thread):
    """Peak RSS of this process, its JVM child and the Python workers under it."""

    def __init__(self, period: float = 0.25):
        super().__init__(daemon=True)
        import psutil

        self.me = psutil.Process()
        self.period = period
        self.peak = {"driver_python": 0, "jvm": 0, "python_workers": 0}
        self.stop_flag = threading.Event()

    def run(self):
        import psutil

        while not self.stop_flag.is_set():
            jvm = workers = 0
            try:
                for p in self.me.children(recursive=True):
                    try:
                        rss = p.memory_info().rss
                        name = p.name()
                    except psutil.Error:
                        continue
                    if "java" in name:
                        jvm += rss
                    elif "python" in name:
                        workers += rss
                driver = self.me.memory_info().rss
            except psutil.Error:
                continue
            for k, v in (("driver_python", driver), ("jvm", jvm), ("python_workers", workers)):
                self.peak[k] = max(self.peak[k], v)
            time.sleep(self.period)

    def stop(self) -> dict:
        self.stop_flag.set()
        self.join()
        return {k: round(v / 2**20) for k, v in self.peak.items()}


# ---------------------------------------------------------------- Spark scale run


def generate(spark, path: str, n: int, rows_per_partition: int = 250_000) -> float:
    import pyarrow as pa

    from nag_spark.delta import write_table
    from nag_spark.spark.rank import NEURON_TYPES  # noqa: F401  (import check)

    datasets = np.array(["web", "books", "code", "news", "hellaswag_train"])

    def make(batches):
        for batch in batches:
            ids = batch.column("id").to_numpy()
            rng = np.random.default_rng(int(ids[0]) + 1)
            nags = synth_nags(rng, len(ids))
            tokens = np.clip(rng.lognormal(6.0, 1.0, len(ids)), 1, 100_000).astype(np.int64)
            ds = datasets[rng.choice(5, len(ids), p=[0.6, 0.2, 0.1, 0.0999, 0.0001])]
            flat = pa.array(nags.ravel(), pa.int16())
            offsets = pa.array(np.arange(0, nags.size + 1, L * K, dtype=np.int32))
            yield pa.RecordBatch.from_arrays(
                [pa.array([f"doc-{i:012d}" for i in ids]), pa.array(ds), pa.array(tokens),
                 pa.array(np.minimum(tokens, 120).astype(np.int32)),
                 pa.ListArray.from_arrays(offsets, flat)],
                names=["docid", "dataset", "token_num", "n_tokens", "fwd_up"])

    parts = max(2, n // rows_per_partition)
    df = spark.range(0, n, numPartitions=parts).mapInArrow(
        make, "docid string, dataset string, token_num long, n_tokens int, fwd_up array<short>")
    props = {"nag.kind": "features", "nag.model": "synthetic-bench", "nag.model_digest": "0",
             "nag.architecture": "Synthetic", "nag.num_layers": str(L), "nag.top_k": str(K),
             "nag.max_length": "120", "nag.dtype": "bfloat16", "nag.neuron_types": "fwd_up",
             "nag.n_neurons.fwd_up": str(N), "nag.version": "bench"}
    t = time.perf_counter()
    write_table(df, path, mode="overwrite", properties=props)
    return time.perf_counter() - t


def scale_run(sizes, workdir: Path, keep: bool) -> list[dict]:
    from nag_spark.session import get_spark
    from nag_spark.spark.rank import RankOptions, run_ranking

    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    spark = get_spark("local", app_name="nag-rank-bench",
                      overrides={"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "16"})
    results = []
    for n in sizes:
        path = workdir / f"pool_{n}"
        gen_s = generate(spark, str(path), n)
        sampler = TreeSampler()
        sampler.start()
        t = time.perf_counter()
        res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=str(path),
                                             output=str(workdir / f"sel_{n}"), fraction=0.2,
                                             experiment="rank-bench"))
        wall = time.perf_counter() - t
        peak = sampler.stop()
        row = {"docs": n, "generate_s": round(gen_s, 1), "rank_wall_s": round(wall, 1),
               "s_per_million_docs": round(wall / (n / 1e6), 1),
               "selected_docs": res.targets[0].selected_docs,
               "boundary_rows": res.targets[0].boundary_rows,
               "stages_s": {k: round(v, 1) for k, v in res.timings.items()},
               "peak_rss_mb": peak}
        print(json.dumps(row), flush=True)
        results.append(row)
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1e6,5e6,2e7", help="pool sizes in documents")
    p.add_argument("--workdir", default="/tmp/nag-rank-bench")
    p.add_argument("--kernel-docs", type=float, default=2e5)
    p.add_argument("--kernel-batch", type=int, default=2048,
                   help="rows per call (2048 = spark.sql.execution.arrow.maxRecordsPerBatch of conf/local.yaml)")
    p.add_argument("--kernel-only", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the generated tables")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    out = {"kernel": kernel_bench(int(float(args.kernel_docs)), args.kernel_batch)}
    print(json.dumps(out["kernel"]), flush=True)
    if not args.kernel_only:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
        out["scale"] = scale_run([int(float(s)) for s in args.sizes.split(",")], work, args.keep)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
