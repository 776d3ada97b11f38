"""The training loop and the eval scoring every proxy shares (one schedule for all).

A proxy is a torch module with a method ``target_logprobs(ids, mask)`` returning the
log-probability of every next token ``ids[:, t]`` (``t >= 1``, ``mask[:, t]`` true) given
``ids[:, :t]``, flattened. Training packs the stream into ``N / seq_len`` sequences, shuffles
their order with the seed, and makes one pass: ``ceil(N / (seq_len * batch))`` AdamW steps
with linear warm-up then cosine decay to a tenth of the peak rate. So equal ``N`` means an
equal schedule.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Schedule:
    """How a proxy trains: sequence length, batch, peak learning rate, warm-up share."""

    seq_len: int = 128
    batch: int = 8
    lr: float = 3e-3
    warmup: float = 0.1
    weight_decay: float = 0.1
    eval_batch: int = 64

    def steps(self, n_tokens: int) -> int:
        """Optimizer steps for ``n_tokens`` training tokens.

        >>> Schedule(seq_len=128, batch=8).steps(102400)
        100
        """
        return math.ceil(n_tokens // self.seq_len / self.batch)


@dataclass
class ProxyOutcome:
    """One training of one proxy on one selection with one seed."""

    loss: dict[str, float]          # eval label -> mean nats per token
    eval_tokens: dict[str, int]
    steps: int
    final_train_loss: float
    train_seconds: float
    eval_seconds: float


def set_threads() -> int:
    """Torch threads = the cores this process may use (the proxy trains on the driver)."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, int(cores or 1)))
    return torch.get_num_threads()


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def fit(model, stream: np.ndarray, schedule: Schedule, seed: int, device: str = "cpu") -> tuple[int, float]:
    """One pass over ``stream`` (length a multiple of ``seq_len``); returns (steps, last loss).

    The seed fixes the order of the sequences (the caller seeds the initialisation).
    """
    import torch

    seqs = torch.from_numpy(np.ascontiguousarray(stream).reshape(-1, schedule.seq_len))
    order = np.random.default_rng(seed).permutation(len(seqs))
    total = schedule.steps(stream.size)
    warmup = max(1, int(round(schedule.warmup * total)))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=schedule.lr, weight_decay=schedule.weight_decay,
                            betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, total, warmup))
    model.train()
    last = float("nan")
    for step in range(total):
        idx = order[step * schedule.batch:(step + 1) * schedule.batch]
        ids = seqs[torch.from_numpy(idx)].to(device)
        mask = torch.ones_like(ids, dtype=torch.bool)
        loss = -model.target_logprobs(ids, mask).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        last = float(loss.detach())
    model.eval()
    return total, last


def score(model, windows: Sequence[np.ndarray], batch: int = 64, device: str = "cpu") -> tuple[float, int]:
    """Total nats and predicted tokens of the eval ``windows`` (see
    :func:`~nag_spark.evaluate.tokens.eval_windows`)."""
    import torch

    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))  # little padding
    nats, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            group = [windows[i] for i in order[start:start + batch]]
            width = max(len(w) for w in group)
            ids = torch.zeros((len(group), width), dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.bool)
            for r, w in enumerate(group):
                ids[r, :len(w)] = torch.from_numpy(w)
                mask[r, :len(w)] = True
            # Right padding: causal attention never lets a padded position reach a real one.
            lp = model.target_logprobs(ids.to(device), mask.to(device))
            nats -= float(lp.double().sum())
            count += int(lp.numel())
    return nats, count


def train_and_score(model, stream: np.ndarray, seed: int, evals: Mapping[str, Sequence[np.ndarray]],
                    schedule: Schedule, device: str = "cpu") -> ProxyOutcome:
    """Train ``model`` on ``stream`` and score every eval set; timings in the outcome."""
    start = time.perf_counter()
    steps, last = fit(model, stream, schedule, seed, device)
    trained = time.perf_counter()
    loss, tokens = {}, {}
    for label, windows in evals.items():
        nats, count = score(model, windows, schedule.eval_batch, device)
        loss[label], tokens[label] = nats / max(1, count), count
    done = time.perf_counter()
    return ProxyOutcome(loss=loss, eval_tokens=tokens, steps=steps, final_train_loss=last,
                        train_seconds=trained - start, eval_seconds=done - trained)
