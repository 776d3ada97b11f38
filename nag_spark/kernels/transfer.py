"""Host <-> device copies that never make the host wait for the device.

Inputs go host -> CUDA from pinned (page-locked) memory with ``non_blocking=True``: the copy
is queued on the stream like a kernel, so the host returns at once and goes on preparing
the next batch. Results go back the same way: :class:`PendingTopK` queues the
device -> pinned-host copy of the top-K indices, records a CUDA event, and waits for it only
when :meth:`PendingTopK.result` is called — by then the extraction loop has queued the next
batch, so the device always has work (results are read one batch late).

Pinned blocks come from PyTorch's caching host allocator, which reuses them across batches
and keeps a block alive until the copies queued on it have run. On CPU every function here
is the identity or a plain ``.numpy()``.
"""
from __future__ import annotations

import numpy as np
import torch


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``tensor`` on ``device``; a host tensor goes to CUDA through pinned memory, async.

    Examples
    --------
    >>> to_device(torch.arange(3), "cpu").tolist()
    [0, 1, 2]
    """
    device = torch.device(device)
    if tensor.device == device:
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu":
        # Only page-locked memory lets a host->device copy be truly asynchronous.
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class PendingTopK:
    """Top-K indices on their way to the host; :meth:`result` waits for them.

    Parameters
    ----------
    indices : dict of str to Tensor
        Per neuron type, ``(B, L, K)`` int64 on any device.

    Examples
    --------
    >>> PendingTopK({"fwd_up": torch.tensor([[[3, 1]]])}).result()["fwd_up"].tolist()
    [[[3, 1]]]
    """

    def __init__(self, indices: dict[str, torch.Tensor]):
        self._event = None
        on_cuda = any(v.device.type == "cuda" for v in indices.values())
        if not on_cuda:
            self._host = indices
            return
        self._host = {}
        for t, v in indices.items():
            host = torch.empty(v.shape, dtype=v.dtype, pin_memory=True)
            host.copy_(v, non_blocking=True)
            self._host[t] = host
        self._event = torch.cuda.Event()
        self._event.record()

    @property
    def ready(self) -> bool:
        """Whether :meth:`result` would return without waiting."""
        return self._event is None or self._event.query()

    def result(self) -> dict[str, np.ndarray]:
        """``(B, L, K)`` int64 arrays on the host (waits for the copy on CUDA)."""
        if self._event is not None:
            self._event.synchronize()
        # The numpy arrays keep their (pinned) tensors alive: nothing is reused under them.
        return {t: v.numpy() for t, v in self._host.items()}
