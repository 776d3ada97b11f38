"""GPU benchmark of NAG extraction: throughput and model FLOP utilisation (MFU), honestly.

    python bench/extract_gpu.py                      # kernel: Qwen3-0.6B and 1.7B shapes
    python bench/extract_gpu.py --e2e                # the real Spark job on one GPU
    python bench/extract_gpu.py --overlap            # bf16 vs fp32 NAGs of SmolLM2 on GPU
    python bench/extract_gpu.py --cpu-smoke          # all three, tiny, on CPU (a check)

Inputs are what production sees: documents of ``../shared/data`` (their token counts, capped
at ``--max-length``, give the length mix: most web documents fill 120 tokens, target
examples are shorter), token ids made on the host, and the worker's own path
(:func:`nag_spark.spark.extract.worker.top_k_rows`: length-sorted token-budget batches of
``--batch-tokens`` padded tokens (the GPU profile's 32768), dense batches for full-length
documents, pinned non-blocking copies, results read one batch late, out-of-memory
back-off). Weights are random (bf16), so no download is needed; the shapes are the
published Qwen3 configs.

MFU = model FLOPs / time, against two peaks: the bf16 matmul rate measured on this GPU (an
8192^3 ``matmul`` timed with CUDA events for at least 2 s) and the datasheet's dense bf16
peak for the GPU model. Model FLOPs count only *valid* tokens (padding is waste) and only
the work NAG needs: ``2 x`` the parameters each token goes through (no embedding lookup,
no LM head, no last-layer ``down_proj`` for ``fwd_up``, which the kernel skips) plus causal
attention (``4 x heads x head_dim x (n + 1) / 2`` per token and layer for an ``n``-token
document).

``--e2e`` runs ``run_extraction`` (Spark ``local[*]``: one task per GPU, the model loaded
once per worker, Delta commits) on ``--e2e-docs`` documents of the shared pool (repeated
with new docids to reach the count) with a random Qwen3-1.7B-shaped model saved to a
folder, and reports docs/s, tokens/s and MFU over the job's wall time (model load and
Spark included).
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
DATA = Path(os.environ.get("NAG_SHARED_DATA", REPO.parent / "shared" / "data"))

# Published Qwen3 shapes (config.json of the Qwen3-0.6B / 1.7B releases).
SHAPES = {
    "0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                 num_attention_heads=16, num_key_value_heads=8, head_dim=128),
    "1.7b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                 num_attention_heads=16, num_key_value_heads=8, head_dim=128),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16),
}
# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's datasheets, FLOP/s.
DATASHEET_BF16 = [("GH200", 989.4e12), ("H200", 989.4e12), ("H100 NVL", 835e12),
                  ("H100 PCIe", 756e12), ("H100", 989.4e12), ("H800", 989.4e12),
                  ("B200", 2250e12), ("A100", 312e12), ("A10", 125e12), ("L40S", 362.05e12),
                  ("L4", 121e12)]


def datasheet_peak(name: str) -> float | None:
    """The datasheet bf16 peak of a GPU by its CUDA name (None when not in the table).

    >>> datasheet_peak("NVIDIA H200"), datasheet_peak("NVIDIA H100 80GB HBM3")
    (989400000000000.0, 989400000000000.0)
    """
    for key, peak in DATASHEET_BF16:
        if key in name:
            return peak
    return None


def matmul_rate(torch, seconds: float = 2.0, n: int = 8192) -> float:
    """Measured bf16 matmul FLOP/s: CUDA events around back-to-back matmuls, >= ``seconds``."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    reps, elapsed = 10, 0.0
    while elapsed < seconds:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            a @ b
        end.record()
        end.synchronize()
        elapsed = start.elapsed_time(end) / 1000
        if elapsed < seconds:
            reps = int(reps * seconds / max(elapsed, 1e-3) * 1.2) + 1
    return 2 * n ** 3 * reps / elapsed


def length_mix(docs: int, max_length: int, seed: int = 0) -> np.ndarray:
    """``docs`` token counts drawn from the shared data's documents (pool and targets),
    capped at ``max_length``; a synthetic mix (80% full, 20% uniform) without the data."""
    rng = np.random.default_rng(seed)
    counts = []
    for name in ("pool.parquet", "targets.parquet"):
        if (DATA / name).is_file():
            import pyarrow.parquet as pq

            counts.append(pq.read_table(DATA / name, columns=["token_num"]).column(0).to_numpy())
    if counts:
        pool = np.concatenate(counts)
        return np.minimum(rng.choice(pool[pool > 0], docs), max_length)
    full = rng.random(docs) < 0.8
    return np.where(full, max_length, rng.integers(8, max_length, docs))


def model_flops(cfg, lengths: np.ndarray, types=("fwd_up",)) -> float:
    """FLOPs NAG needs for documents of ``lengths`` valid tokens (see the module doc)."""
    d, f, L = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    att = cfg.num_attention_heads * cfg.head_dim
    kv = cfg.num_key_value_heads * cfg.head_dim
    per_layer = d * (att + 2 * kv) + att * d + 3 * d * f   # q,k,v,o + gate,up,down
    params = L * per_layer - (d * f if tuple(types) == ("fwd_up",) else 0)
    tokens = float(lengths.sum())
    attention = 4 * att * L * float((lengths * (lengths + 1) / 2).sum())
    return 2 * params * tokens + attention


def _worker_config(batch_tokens: int, max_length: int, L: int, K: int = 20):
    from nag_spark.spark.extract.worker_config import WorkerConfig

    return WorkerConfig("bench", "hf_dir", "bench", "bfloat16", "auto", ("fwd_up",), K,
                        max_length, batch_tokens, {"fwd_up": "short"})


def random_qwen3(torch, name: str, device: str, vocab: int):
    from transformers import Qwen3Config, Qwen3Model

    cfg = Qwen3Config(vocab_size=vocab, max_position_embeddings=40960, tie_word_embeddings=True,
                      **SHAPES[name])
    with torch.device(device):
        model = Qwen3Model(cfg).to(torch.bfloat16).eval()
    return cfg, model


def bench_kernel(torch, name: str, args, device: str, peaks: dict) -> None:
    """The worker's batch path on host-made token ids, timed after a warm-up."""
    from types import SimpleNamespace

    from nag_spark.kernels.fusion import fuse_model, reducer_for
    from nag_spark.kernels.impact import NeuronImpact
    from nag_spark.spark.extract.worker import top_k_rows

    vocab = 151936 if device.startswith("cuda") else 1000
    cfg, model = random_qwen3(torch, name, device, vocab)
    mode = fuse_model(model, args.fusion, device)
    nag = NeuronImpact(model, ["fwd_up"], top_k=20, reducer=reducer_for(mode))
    rng = np.random.default_rng(1)
    lengths = length_mix(args.docs, args.max_length)
    tokens = [rng.integers(0, vocab, n).tolist() for n in lengths]
    backbone = SimpleNamespace(pad_id=0)
    config = _worker_config(args.batch_tokens, args.max_length, cfg.num_hidden_layers)
    top_k_rows(tokens[: max(64, len(tokens) // 8)], backbone, nag, config, device)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    top_k_rows(tokens, backbone, nag, config, device)  # ends with the last result on the host
    seconds = time.perf_counter() - start
    flops = model_flops(cfg, lengths) / seconds
    mem = torch.cuda.max_memory_allocated() / 2 ** 30 if device.startswith("cuda") else 0.0
    full = float((lengths == args.max_length).mean())
    print(f"Qwen3-{name} kernel: {len(tokens)} docs (mean {lengths.mean():.0f} tokens, "
          f"{100 * full:.0f}% full), batch {args.batch_tokens} tokens, fusion {mode}: "
          f"{len(tokens) / seconds:.0f} docs/s, {lengths.sum() / seconds:.0f} tokens/s, "
          f"{flops / 1e12:.1f} TFLOP/s, {_mfu(flops, peaks)}, peak mem {mem:.1f} GiB", flush=True)
    nag.close()
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _mfu(flops: float, peaks: dict) -> str:
    parts = [f"MFU {100 * flops / peak:.1f}% of {label}" for label, peak in peaks.items() if peak]
    return ", ".join(parts) or "MFU n/a"


def write_docs(work: Path, docs: int) -> Path:
    """``docs`` documents of the shared pool (repeated under new docids) as one parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (DATA / "pool.parquet").is_file():
        base = pq.read_table(DATA / "pool.parquet", columns=["docid", "doc", "dataset", "token_num"])
    else:  # no shared data: the demo's synthetic pool
        from nag_spark.demo_data import make_demo_frames

        base = pa.Table.from_pandas(make_demo_frames(pool_size=2000)[0], preserve_index=False)
        base = base.select(["docid", "doc", "dataset", "token_num"])
    parts, copy = [], 0
    while sum(p.num_rows for p in parts) < docs:
        t = base.slice(0, docs - sum(p.num_rows for p in parts))
        ids = pa.array([f"{d}#r{copy}" for d in t.column("docid").to_pylist()])
        parts.append(t.set_column(0, "docid", ids))
        copy += 1
    path = work / "docs.parquet"
    pq.write_table(pa.concat_tables(parts), path, row_group_size=8192)
    return path


def save_model(torch, name: str, device: str, folder: Path) -> object:
    """A random Qwen3 of shape ``name`` with the SmolLM2 tokenizer, saved as a HF folder."""
    from transformers import AutoTokenizer

    from nag_spark.models import local_model_dir, resolve_model_spec

    tok = AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec("smollm2-135m"))))
    cfg, model = random_qwen3(torch, name, device, len(tok))
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    del model
    return cfg


def bench_e2e(torch, args, device: str, peaks: dict) -> None:
    """The real extraction job (Spark local mode) on one GPU."""
    from deltalake import DeltaTable

    from nag_spark.session import get_spark
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    with tempfile.TemporaryDirectory(prefix="nag-bench-e2e-") as tmp:
        work = Path(tmp)
        src = write_docs(work, args.e2e_docs)
        cfg = save_model(torch, args.e2e_model, device, work / "model")
        overrides = {"spark.master": args.master, "spark.driver.memory": "8g",
                     "spark.nag.extract.fusion": args.fusion}
        if device.startswith("cuda"):
            overrides["spark.nag.extract.gpu_batch_tokens"] = str(args.batch_tokens)
        spark = get_spark("local", app_name="bench-extract-gpu", overrides=overrides)
        try:
            res = run_extraction(spark, ExtractOptions(
                input=str(src), output=str(work / "features"), model=str(work / "model"),
                dtype="bfloat16" if device.startswith("cuda") else "float32",
                max_length=args.max_length, track=False, progress_seconds=30))
        finally:
            spark.stop()
        lengths = DeltaTable(str(work / "features")).to_pyarrow_table(
            columns=["n_tokens"]).column(0).to_numpy().astype(np.int64)
    flops = model_flops(cfg, lengths) / res.seconds
    print(f"Qwen3-{args.e2e_model} end to end ({args.master}, {device}): {res.docs_processed} docs, "
          f"{res.tokens} tokens in {res.seconds:.1f}s: {res.docs_per_s:.0f} docs/s, "
          f"{res.tokens_per_s:.0f} tokens/s, {flops / 1e12:.1f} TFLOP/s, {_mfu(flops, peaks)}, "
          f"task slots busy {100 * res.busy_share:.0f}%", flush=True)


def bench_overlap(torch, args, device: str) -> None:
    """bf16 vs fp32 NAGs of the real SmolLM2-135M on real documents, on this device."""
    import pyarrow.parquet as pq

    from nag_spark.kernels.impact import NeuronImpact
    from nag_spark.kernels.tokenize import prefix_token_ids
    from nag_spark.models import load_backbone, resolve_model_spec
    from nag_spark.spark.extract.worker import top_k_rows

    texts = pq.read_table(DATA / "pool.parquet", columns=["doc"]).column(0).to_pylist()
    texts = [t for t in texts[:: max(1, len(texts) // args.overlap_docs)] if t and t.strip()]
    nags = {}
    for dtype in ("float32", "bfloat16"):
        bb = load_backbone(resolve_model_spec("smollm2-135m"), dtype, device)
        tokens = prefix_token_ids(bb.tokenizer, texts, args.max_length)
        nag = NeuronImpact(bb.model, ["fwd_up"], top_k=20)
        config = _worker_config(args.batch_tokens, args.max_length, nag.num_layers)
        nags[dtype] = top_k_rows(tokens, bb, nag, config, device)["fwd_up"].reshape(
            len(tokens), nag.num_layers, 20)
        nag.close()
    a, b = nags["float32"], nags["bfloat16"]
    same = np.mean([set(x) == set(y) for x, y in zip(a.reshape(-1, 20), b.reshape(-1, 20))])
    jac = np.mean([len(set(x) & set(y)) / len(set(x) | set(y))
                   for x, y in zip(a.reshape(-1, 20), b.reshape(-1, 20))])
    print(f"SmolLM2-135M bf16 vs fp32 NAGs on {device}, {len(a)} real documents: identical "
          f"top-20 sets {100 * same:.1f}% of (document, layer) pairs, mean Jaccard {jac:.3f}",
          flush=True)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=32768, help="documents per kernel run")
    p.add_argument("--max-length", type=int, default=120)
    p.add_argument("--batch-tokens", type=int, default=None,
                   help="padded tokens per batch (default: the GPU profile's)")
    p.add_argument("--models", default="0.6b,1.7b")
    p.add_argument("--fusion", default="off", help="off | compile | liger")
    p.add_argument("--e2e", action="store_true", help="also run the real Spark job")
    p.add_argument("--e2e-docs", type=int, default=100_000)
    p.add_argument("--e2e-model", default="1.7b")
    p.add_argument("--master", default="local[*]")
    p.add_argument("--overlap", action="store_true", help="also measure bf16 vs fp32 NAGs")
    p.add_argument("--overlap-docs", type=int, default=2000)
    p.add_argument("--skip-kernel", action="store_true")
    p.add_argument("--cpu-smoke", action="store_true",
                   help="run every part tiny on CPU (checks the script; numbers mean nothing)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    import torch

    if args.batch_tokens is None:
        from nag_spark.config import load_profile

        args.batch_tokens = int(load_profile("cluster-gpu").nag["extract.gpu_batch_tokens"])
    if args.cpu_smoke:
        args.docs, args.e2e_docs, args.e2e_model, args.overlap_docs = 256, 300, "tiny", 24
        args.batch_tokens, args.master = 2048, "local[2]"
        peaks = {"an assumed 1 TFLOP/s": 1e12}
        bench_kernel(torch, "tiny", args, "cpu", peaks)
        bench_e2e(torch, args, "cpu", peaks)
        bench_overlap(torch, args, "cpu")
        return 0
    if not torch.cuda.is_available():
        print("error: bench/extract_gpu.py needs a CUDA GPU (torch.cuda.is_available() is False);"
              " --cpu-smoke checks the script on CPU", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name()
    measured = matmul_rate(torch)
    peaks = {"measured matmul rate": measured, "datasheet peak": datasheet_peak(name)}
    sheet = f"{peaks['datasheet peak'] / 1e12:.0f}" if peaks["datasheet peak"] else "unknown"
    print(f"device: {name}, torch {torch.__version__}, measured bf16 matmul rate "
          f"{measured / 1e12:.0f} TFLOP/s (CUDA events, >= 2 s), datasheet {sheet} TFLOP/s",
          flush=True)
    if not args.skip_kernel:
        for shape in args.models.split(","):
            bench_kernel(torch, shape.strip(), args, "cuda:0", peaks)
    if args.overlap:
        bench_overlap(torch, args, "cuda:0")
    if args.e2e:
        bench_e2e(torch, args, "cuda:0", peaks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
