"""CPU benchmark: the Spark extraction job end to end vs a straightforward sequential reference.

    python bench/extract_cpu.py [--docs 96] [--max-length 120]

Both process the same fixed sample of ``../shared/data/pool.parquet`` (every n-th row) with
SmolLM2-135M in fp32:

- reference: what the paper's release does, one process, no Spark: the full CausalLM
  forward (LM head included), batches of 6 documents in input order padded to the longest,
  every layer's ``up_proj`` output captured, then mean |.| over valid tokens and
  ``torch.topk`` per layer;
- nag-spark: ``run_extraction`` (Spark ``local[*]``, per-worker model cache, token-budget
  length-sorted batches, hooks reducing on the fly, no LM head) including the Delta commit.

Prints docs/s of both, the ratio, and the share of (document, layer) pairs whose top-K
sets agree. Timings exclude the Spark session start and the reference's model load (the
job's own model loads, one per worker, are included).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def sample(path: Path, n: int, out: Path) -> Path:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    step = max(1, table.num_rows // n)
    picked = table.take(list(range(0, step * n, step))[:n])
    pq.write_table(picked, out)
    return out


def reference(docs: list[str], max_length: int, k: int, batch: int = 6) -> tuple[np.ndarray, float]:
    """Sequential reference: (docs, L, K) top-K indices and seconds."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nag_spark.models import local_model_dir, resolve_model_spec

    folder = local_model_dir(resolve_model_spec("smollm2-135m"))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.pad_token = tok.pad_token or tok.eos_token
    captured: list[torch.Tensor] = []
    for layer in model.model.layers:
        layer.mlp.up_proj.register_forward_hook(lambda m, a, o: captured.append(o.detach()))
    out = []
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(docs), batch):
            enc = tok(docs[i:i + batch], add_special_tokens=False, truncation=True,
                      max_length=max_length, padding=True, return_tensors="pt")
            captured.clear()
            model(**enc)  # full CausalLM forward, logits included
            mask = enc["attention_mask"].unsqueeze(-1).float()
            acts = torch.stack(captured, 1)  # (B, L, T, N)
            imp = (acts.abs() * mask.unsqueeze(1)).sum(2) / mask.sum(1).unsqueeze(1)
            out.append(torch.topk(imp, k, dim=-1).indices.numpy())
    return np.concatenate(out), time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=96)
    p.add_argument("--max-length", type=int, default=120)
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "pool.parquet"))
    args = p.parse_args()

    import pandas as pd
    from deltalake import DeltaTable

    from nag_spark.session import get_spark
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    work = Path(tempfile.mkdtemp(prefix="nag-bench-"))
    src = sample(Path(args.data), args.docs, work / "sample.parquet")
    docs = pd.read_parquet(src)

    spark = get_spark("local", app_name="bench-extract")
    # Warm the per-node GGUF cache outside the timing (a one-off per node).
    from nag_spark.models import describe_model, resolve_model_spec

    describe_model(resolve_model_spec("smollm2-135m"))
    t0 = time.perf_counter()
    res = run_extraction(spark, ExtractOptions(input=str(src), output=str(work / "features"),
                                               max_length=args.max_length, top_k=args.top_k,
                                               dtype="float32", track=False))
    job_s = time.perf_counter() - t0
    spark.stop()
    feats = DeltaTable(str(work / "features")).to_pandas().set_index("docid")

    ref_idx, ref_s = reference(docs["doc"].tolist(), args.max_length, args.top_k)
    L = ref_idx.shape[1]
    agree = total = 0
    for i, docid in enumerate(docs["docid"]):
        got = np.asarray(feats.loc[docid, "fwd_up"]).reshape(L, args.top_k)
        for layer in range(L):
            total += 1
            agree += set(got[layer].tolist()) == set(ref_idx[i, layer].tolist())
    n = len(docs)
    job_rate, ref_rate = n / job_s, n / ref_s
    print(f"documents: {n} (max_length {args.max_length}, K {args.top_k}, {res.tokens} tokens), "
          f"cores: {os.cpu_count()}")
    print(f"reference (CausalLM fp32, batch 6, sequential): {ref_rate:.2f} docs/s ({ref_s:.1f}s)")
    print(f"nag-spark job (Spark + Delta commit):           {job_rate:.2f} docs/s ({job_s:.1f}s)")
    print(f"speed-up: {job_rate / ref_rate:.2f}x")
    print(f"top-K agreement: {100.0 * agree / total:.2f}% of {total} (document, layer) pairs")


if __name__ == "__main__":
    main()
