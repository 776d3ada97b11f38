"""GPU benchmark of the NAG kernel: Qwen3-0.6B and Qwen3-1.7B shapes, random bf16 weights.

    python bench/extract_gpu.py [--docs 8192] [--batch-tokens 65536] [--models 0.6b,1.7b]

For 120-token documents (random token ids; weights random, so no download is needed)
it runs :class:`nag_spark.kernels.impact.NeuronImpact` (``fwd_up``, K 20, the base model
without LM head) in token-budget batches and prints docs/s, tokens/s, peak GPU memory and
model FLOP utilisation: ``2 × non-embedding parameters × tokens / time`` divided by the
bf16 matmul rate measured on the same GPU (a large square ``torch.matmul``). Needs CUDA;
without it, it says so and exits 2.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Published Qwen3 shapes (config.json of the Qwen3-0.6B / 1.7B releases).
SHAPES = {
    "0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                 num_attention_heads=16, num_key_value_heads=8, head_dim=128),
    "1.7b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                 num_attention_heads=16, num_key_value_heads=8, head_dim=128),
}


def matmul_rate(torch, n: int = 8192, reps: int = 20) -> float:
    """Measured bf16 matmul FLOP/s (the denominator of the utilisation)."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - start)


def _sync(torch, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_shape(torch, name: str, docs: int, length: int, batch_tokens: int, peak: float,
                device: str = "cuda") -> None:
    from transformers import Qwen3Config, Qwen3Model

    from nag_spark.kernels.impact import NeuronImpact

    cfg = Qwen3Config(vocab_size=151936 if device.startswith("cuda") else 1000,
                      max_position_embeddings=40960, tie_word_embeddings=True, **SHAPES[name])
    with torch.device(device):
        model = Qwen3Model(cfg).to(torch.bfloat16).eval()
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n)
    nag = NeuronImpact(model, ["fwd_up"], top_k=20)
    per_batch = max(1, batch_tokens // length)
    ids = torch.randint(0, cfg.vocab_size, (per_batch, length), device=device)
    mask = torch.ones_like(ids)
    nag.top_k(ids, mask)  # warm-up: kernels, allocator
    _sync(torch, device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    batches = max(1, docs // per_batch)
    start = time.perf_counter()
    for _ in range(batches):
        ids = torch.randint(0, cfg.vocab_size, (per_batch, length), device=device)
        nag.top_k(ids, mask)  # includes the device-to-host copy of the indices
    _sync(torch, device)
    seconds = time.perf_counter() - start
    n_docs, tokens = batches * per_batch, batches * per_batch * length
    flops = 2 * non_embedding * tokens / seconds
    peak_mem = torch.cuda.max_memory_allocated() if device.startswith("cuda") else 0
    print(f"Qwen3-{name}: {n_docs} docs x {length} tokens, batch {per_batch} docs: "
          f"{n_docs / seconds:.0f} docs/s, {tokens / seconds:.0f} tokens/s, "
          f"peak mem {peak_mem / 2**30:.2f} GiB, "
          f"{flops / 1e12:.1f} TFLOP/s, MFU {100 * flops / peak:.1f}% "
          f"(non-embedding params {non_embedding / 1e6:.0f}M)", flush=True)
    nag.close()
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=8192)
    p.add_argument("--length", type=int, default=120)
    p.add_argument("--batch-tokens", type=int, default=65536)
    p.add_argument("--models", default="0.6b,1.7b")
    p.add_argument("--cpu-smoke", action="store_true",
                   help="check the script on CPU with a tiny shape (no meaningful numbers)")
    args = p.parse_args()
    import torch

    if args.cpu_smoke:
        SHAPES["tiny"] = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=16)
        bench_shape(torch, "tiny", 64, args.length, 4096, peak=1e12, device="cpu")
        return 0
    if not torch.cuda.is_available():
        print("error: bench/extract_gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)",
              file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = True
    peak = matmul_rate(torch)
    print(f"device: {torch.cuda.get_device_name()}, measured bf16 matmul rate {peak / 1e12:.0f} TFLOP/s")
    for name in args.models.split(","):
        bench_shape(torch, name.strip(), args.docs, args.length, args.batch_tokens, peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
