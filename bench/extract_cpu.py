"""CPU benchmark: the SmolLM2 extraction job end to end against a sequential reference.

    python bench/extract_cpu.py [--docs 300] [--targets 120] [--skip-bf16] [--release]

Every one reads the same fixed sample of ``../shared/data/pool.parquet`` (every n-th row,
real text of every source) with SmolLM2-135M on this machine's CPU cores:

- **reference**: a plain single-process loop, no Spark: tokenize each whole document,
  truncate to ``max_length``, batches of 6 documents in input order left-padded to the
  longest, the NAG hook kernel (:class:`nag_spark.kernels.impact.NeuronImpact` on the
  base model, torch's default threads: every core), top-K; fp32;
- **release-style reference** (``--release`` adds it): what the paper's release does, the
  same loop with the full CausalLM forward (LM head included) and every layer's
  ``up_proj`` output captured by plain hooks, mean |.| and ``torch.topk`` (the reference
  of this bench before issue 10);
- **job fp32**: ``run_extraction`` (Spark ``local[*]``, a worker per core, per-worker
  model cache, prefix tokenization in a side thread, length-sorted token-budget batches,
  the Delta commits), in a fresh Spark context so its Python workers start, import torch
  and load the model inside the timing; MLflow off (``--mlflow`` turns it on);
- **job bf16** (``--skip-bf16`` drops it): the same job in bfloat16, compared with fp32 on
  the top-K sets and on what ranking selects: the pool sample and ``--targets`` examples
  each of ``hellaswag_train`` and ``arc_c_train`` (from ``targets.parquet``) are
  extracted in both dtypes and ranked with :func:`nag_spark.spark.rank.run_ranking` for
  ``hellaswag`` and ``arc_c`` at fraction 0.2; the Jaccard of the selected docids says
  whether bf16 may be the default (issue 10: only at >= 0.95).

It also prints what ``dtype auto`` picks on this CPU (the calibration of
:mod:`nag_spark.models.calibrate`) and whether that agrees with the Jaccard rule.

Timings exclude the JVM start and the references' model load; the jobs' own model loads
(one per Python worker) are included. Each rate is given per wall second and per CPU
second (the job: its driver, JVM and Python workers, sampled; the references: the
process): on a machine shared with other work, wall time measures the neighbours as much
as the code, CPU time much less so. Top-K agreement is the share of (document, layer)
pairs whose K-sets are equal.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = REPO.parent / "shared" / "data"
TARGETS = {"hellaswag": "hellaswag_train", "arc_c": "arc_c_train"}


# ---------------------------------------------------------------- samples


def every_nth(table, n: int):
    """``n`` rows of ``table`` spread evenly over it (all of it when it is smaller)."""
    step = max(1, table.num_rows // max(1, n))
    return table.take(list(range(0, table.num_rows, step))[:n])


def write_samples(work: Path, docs: int, per_target: int) -> tuple[Path, Path]:
    """The pool sample and the target examples, as parquet files in ``work``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pool = every_nth(pq.read_table(DATA / "pool.parquet"), docs)
    pq.write_table(pool, work / "pool.parquet")
    targets = pq.read_table(DATA / "targets.parquet")
    parts = [every_nth(targets.filter(pc.equal(targets.column("dataset"), label)), per_target)
             for label in TARGETS.values()]
    pq.write_table(pa.concat_tables(parts), work / "targets.parquet")
    return work / "pool.parquet", work / "targets.parquet"


# ---------------------------------------------------------------- references


def _batches(n: int, size: int):
    return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def reference_kernel(docs: list[str], max_length: int, k: int, batch: int = 6):
    """The plain loop with the NAG kernel: ``(docs, L, K)`` indices and seconds."""
    from nag_spark.kernels.impact import NeuronImpact, left_pad
    from nag_spark.models import load_backbone, resolve_model_spec

    bb = load_backbone(resolve_model_spec("smollm2-135m"), "float32", "cpu")
    nag = NeuronImpact(bb.model, ["fwd_up"], k)
    out = []
    start, cpu = time.perf_counter(), time.process_time()
    ids = [t[:max_length] for t in bb.tokenizer(docs, add_special_tokens=False)["input_ids"]]
    for rows in _batches(len(docs), batch):
        out.append(nag.top_k(*left_pad([ids[i] for i in rows], bb.pad_id))["fwd_up"])
    return np.concatenate(out), time.perf_counter() - start, time.process_time() - cpu


def reference_release(docs: list[str], max_length: int, k: int, batch: int = 6):
    """The release's way: CausalLM forward with the LM head, plain hooks, ``torch.topk``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nag_spark.models import local_model_dir, resolve_model_spec

    folder = local_model_dir(resolve_model_spec("smollm2-135m"))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.pad_token = tok.pad_token or tok.eos_token
    captured: list = []
    for layer in model.model.layers:
        layer.mlp.up_proj.register_forward_hook(lambda m, a, o: captured.append(o.detach()))
    out = []
    start, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for i in range(0, len(docs), batch):
            enc = tok(docs[i:i + batch], add_special_tokens=False, truncation=True,
                      max_length=max_length, padding=True, return_tensors="pt")
            captured.clear()
            model(**enc)
            mask = enc["attention_mask"].unsqueeze(-1).float()
            acts = torch.stack(captured, 1)  # (B, L, T, N)
            imp = (acts.abs() * mask.unsqueeze(1)).sum(2) / mask.sum(1).unsqueeze(1)
            out.append(torch.topk(imp, k, dim=-1).indices.numpy())
    return np.concatenate(out), time.perf_counter() - start, time.process_time() - cpu


# ---------------------------------------------------------------- jobs


def run_job(src: Path, out: Path, dtype: str, args) -> tuple[float, float, object]:
    """One extraction in a fresh Spark context (fresh Python workers):
    (seconds, CPU seconds of this process tree: driver, JVM, Python workers, result)."""
    from extract_scale import TreeSampler

    from nag_spark.session import get_spark
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    spark = get_spark("local", app_name=f"bench-extract-{dtype}")
    try:
        sampler = TreeSampler(os.getpid())
        sampler.start()
        start = time.perf_counter()
        res = run_extraction(spark, ExtractOptions(
            input=str(src), output=str(out), max_length=args.max_length, top_k=args.top_k,
            dtype=dtype, track=args.mlflow, experiment="bench-extract-cpu"))
        seconds = time.perf_counter() - start
        _, cpu = sampler.stop()
        return seconds, sum(cpu.values()), res
    finally:
        spark.stop()


def features(path: Path, L: int, k: int) -> dict[str, np.ndarray]:
    """docid -> (L, K) indices of a features table, read with delta-rs."""
    from deltalake import DeltaTable

    t = DeltaTable(str(path)).to_pyarrow_table(columns=["docid", "fwd_up"])
    return {d: np.asarray(v).reshape(L, k) for d, v in
            zip(t.column("docid").to_pylist(), t.column("fwd_up").to_pylist())}


def agreement(a: dict, b: dict, docids) -> tuple[float, int]:
    """Share of (document, layer) pairs whose K-sets are equal, and the pair count."""
    equal = total = 0
    for d in docids:
        for la, lb in zip(a[d], b[d]):
            total += 1
            equal += set(la.tolist()) == set(lb.tolist())
    return equal / total if total else float("nan"), total


def selections(work: Path, dtype: str, pool: Path, targets: Path) -> dict[str, set]:
    """docids selected for each target from ``pool`` with the ``targets`` features."""
    from deltalake import DeltaTable

    from nag_spark.session import get_spark
    from nag_spark.spark.rank import RankOptions, run_ranking

    spark = get_spark("local", app_name=f"bench-rank-{dtype}")
    out = {}
    try:
        for name in TARGETS:
            sel = work / f"selection_{dtype}_{name}"
            run_ranking(spark, RankOptions(targets=[name], pool=str(pool), target_features=str(targets),
                                           output=str(sel), fraction=0.2,
                                           experiment="bench-extract-cpu"))
            out[name] = set(DeltaTable(str(sel)).to_pyarrow_table(columns=["docid"])
                            .column("docid").to_pylist())
    finally:
        spark.stop()
    return out


def jaccard(a: set, b: set) -> float:
    """Shared / all (1.0 when both are empty).

    >>> jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    return len(a & b) / len(a | b) if a | b else 1.0


def calibrated_dtype() -> tuple[str, str]:
    """What ``dtype auto`` picks for SmolLM2 on this machine's CPU, and why."""
    from nag_spark.models import model_cache_dir, resolve_model_spec
    from nag_spark.models.calibrate import choose_dtype

    return choose_dtype("auto", "cpu", resolve_model_spec("smollm2-135m"), model_cache_dir())


# ---------------------------------------------------------------- main


def bf16_part(work: Path, pool_src: Path, tgt_src: Path, fp32: dict, docids, L: int, args) -> dict:
    """The bf16 job and its comparison with fp32 (top-K sets, selections)."""
    secs, cpu, res = run_job(pool_src, work / "pool_bfloat16", "bfloat16", args)
    bf16 = features(work / "pool_bfloat16", L, args.top_k)
    agree, _ = agreement(fp32, bf16, docids)
    for dtype in ("float32", "bfloat16"):
        run_job(tgt_src, work / f"targets_{dtype}", dtype, args)
    sel = {dtype: selections(work, dtype, work / f"pool_{dtype}", work / f"targets_{dtype}")
           for dtype in ("float32", "bfloat16")}
    jac = {name: round(jaccard(sel["float32"][name], sel["bfloat16"][name]), 4) for name in TARGETS}
    sizes = {name: [len(sel["float32"][name]), len(sel["bfloat16"][name])] for name in TARGETS}
    return {"bf16_docs_per_s": round(len(docids) / secs, 3), "bf16_seconds": round(secs, 1),
            "bf16_docs_per_cpu_s": round(len(docids) / cpu, 3),
            "bf16_topk_agreement_with_fp32": round(agree, 5), "selection_jaccard": jac,
            "selected_docs_fp32_bf16": sizes,
            "bf16_may_be_default": all(v >= 0.95 for v in jac.values())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=300, help="pool documents in the sample")
    p.add_argument("--targets", type=int, default=120,
                   help="examples of hellaswag_train and of arc_c_train (bf16 selections)")
    p.add_argument("--max-length", type=int, default=120)
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--mlflow", action="store_true", help="record the jobs' MLflow runs")
    p.add_argument("--skip-bf16", action="store_true")
    p.add_argument("--release", action="store_true", help="also the release-style reference")
    p.add_argument("--workdir", help="default: a new temporary folder")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    import pyarrow.parquet as pq

    from nag_spark.models import describe_model, resolve_model_spec

    work = Path(args.workdir or tempfile.mkdtemp(prefix="nag-bench-cpu-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{work}/mlflow.db")
    pool_src, tgt_src = write_samples(work, args.docs, args.targets)
    sample = pq.read_table(pool_src, columns=["docid", "doc"])
    docids, texts = sample.column("docid").to_pylist(), sample.column("doc").to_pylist()
    info = describe_model(resolve_model_spec("smollm2-135m"))  # the GGUF conversion, once per node
    L = int(info["num_layers"])

    job_s, job_cpu, res = run_job(pool_src, work / "pool_float32", "float32", args)
    fp32 = features(work / "pool_float32", L, args.top_k)
    ref_idx, ref_s, ref_cpu = reference_kernel(texts, args.max_length, args.top_k)
    agree, pairs = agreement(fp32, dict(zip(docids, ref_idx)), docids)
    n = len(docids)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = {"docs": n, "tokens": res.tokens, "cores": cores,
           "max_length": args.max_length, "top_k": args.top_k,
           "job_fp32_docs_per_s": round(n / job_s, 3), "job_fp32_seconds": round(job_s, 1),
           "reference_docs_per_s": round(n / ref_s, 3), "reference_seconds": round(ref_s, 1),
           "speedup_vs_reference": round(ref_s / job_s, 3),
           "job_fp32_docs_per_cpu_s": round(n / job_cpu, 3),
           "reference_docs_per_cpu_s": round(n / ref_cpu, 3),
           "speedup_vs_reference_cpu": round(ref_cpu / job_cpu, 3),
           "topk_agreement_with_reference": round(agree, 5), "pairs": pairs}
    if args.release:
        rel_idx, rel_s, rel_cpu = reference_release(texts, args.max_length, args.top_k)
        out.update(release_reference_docs_per_s=round(n / rel_s, 3),
                   speedup_vs_release_reference=round(rel_s / job_s, 3),
                   speedup_vs_release_reference_cpu=round(rel_cpu / job_cpu, 3),
                   topk_agreement_with_release_reference=round(
                       agreement(fp32, dict(zip(docids, rel_idx)), docids)[0], 5))
    print(json.dumps(out), flush=True)
    if not args.skip_bf16:
        bf = bf16_part(work, pool_src, tgt_src, fp32, docids, L, args)
        out.update(bf)
        print(json.dumps(bf), flush=True)
    dtype, reason = calibrated_dtype()
    out["auto_dtype_on_this_cpu"], out["auto_dtype_reason"] = dtype, reason
    if "bf16_may_be_default" in out:
        out["auto_consistent_with_jaccard_rule"] = dtype == "float32" or out["bf16_may_be_default"]
    print(json.dumps({k: out[k] for k in out if k.startswith("auto_")}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
