"""Token-budget batches and CUDA out-of-memory back-off (pure Python/torch, no Spark).

Documents are sorted by token count (longest first) inside each Arrow batch, then cut into
batches whose padded size ``rows × longest`` stays within a token budget: similar lengths
share a batch, so padding is small, and the budget bounds activation memory whatever the
lengths are. Documents that fill ``max_length`` (most web documents at 120 tokens) get
batches of their own, with no padding: the model then runs them densely, without an
attention mask.

Out of memory. A batch that runs out of device memory (the CUDA caching allocator, or
cuBLAS failing to allocate its workspace) is halved and retried, after the failed
attempt's tensors are released: the exception's traceback holds the frames of the failed
forward, so the retry runs only once the exception is gone, the garbage collector has run
and torch's cache has been emptied. An :class:`OomBackoff` remembers the smallest padded
size that failed, per worker and model, and splits later batches below it up front, so a
size fails once per worker, not once per batch.
"""
from __future__ import annotations

import gc
from typing import Callable, Iterator, Sequence, TypeVar

from ..logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


def token_budget_batches(lengths: Sequence[int], budget: int,
                         dense_length: int | None = None) -> list[list[int]]:
    """Split row positions into batches of at most ``budget`` padded tokens.

    Parameters
    ----------
    lengths : sequence of int
        Token count of each row (rows of length 0 are left out).
    budget : int
        Maximum ``len(batch) * max(length in batch)``; a single row longer than the budget
        still forms a batch of its own.
    dense_length : int, optional
        Rows of exactly this length (``max_length``: documents that fill it) never share a
        batch with shorter rows, so their batches have no padding at all.

    Returns
    -------
    list of list of int
        Row positions, longest documents first.

    Examples
    --------
    >>> token_budget_batches([3, 10, 0, 9, 2], budget=20)
    [[1, 3], [0, 4]]
    >>> token_budget_batches([4, 4, 3, 4], budget=16, dense_length=4)
    [[0, 1, 3], [2]]
    """
    order = sorted((i for i, n in enumerate(lengths) if n > 0), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted longest first, so the batch's padded width is that of its first row.
        width = lengths[current[0]] if current else lengths[i]
        leaves_dense = (dense_length is not None and current and width == dense_length
                        and lengths[i] != dense_length)
        if current and ((len(current) + 1) * width > budget or leaves_dense):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


# cuBLAS reports a failed workspace allocation as a status, not as a torch OOM; a handle
# that cannot be created (cublasCreate) fails as NOT_INITIALIZED, also for lack of memory.
_OOM_MESSAGES = ("CUDA out of memory", "CUDA error: out of memory", "CUBLAS_STATUS_ALLOC_FAILED")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` means the device ran out of memory (torch or cuBLAS).

    >>> is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"))
    True
    >>> is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    False
    """
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    if not isinstance(exc, RuntimeError):
        return False
    text = str(exc)
    return (any(m in text for m in _OOM_MESSAGES)
            or ("CUBLAS_STATUS_NOT_INITIALIZED" in text and "cublasCreate" in text))


def _release_device_memory() -> None:
    """Give back what a failed attempt held (called once its exception is gone)."""
    gc.collect()  # frames of the failed forward may sit in reference cycles
    try:
        import torch
    except ImportError:
        return
    torch.cuda.empty_cache()  # a no-op until CUDA is initialised


class OomBackoff:
    """Out-of-memory back-off with a memory of the sizes that failed (one per worker/model).

    Attributes
    ----------
    failed_size : int or None
        The smallest size (``size(rows)``, padded tokens in the worker) that ran out of
        memory; batches this large or larger are split before they run.
    ooms : int
        Out-of-memory errors seen.

    Examples
    --------
    >>> backoff = OomBackoff()
    >>> def run(rows):
    ...     if len(rows) > 2:
    ...         raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    ...     return len(rows)
    >>> [part for part, _ in backoff.run([0, 1, 2, 3, 4], run)]
    [[0, 1], [2], [3, 4]]
    >>> backoff.failed_size, [part for part, _ in backoff.run([5, 6, 7], run)]
    (3, [[5], [6, 7]])
    """

    def __init__(self):
        self.failed_size: int | None = None
        self.ooms = 0

    def _too_big(self, part: list[int], size: Callable[[list[int]], int]) -> bool:
        return self.failed_size is not None and len(part) > 1 and size(part) >= self.failed_size

    def run(self, rows: list[int], fn: Callable[[list[int]], T],
            size: Callable[[list[int]], int] = len) -> Iterator[tuple[list[int], T]]:
        """Run ``fn`` on ``rows`` in parts that fit; yields ``(part, fn(part))`` in order.

        Raises any error of ``fn`` that is not out-of-memory at once, and an out-of-memory
        error of a single row, since nothing smaller can be tried.
        """
        pending = [rows]
        while pending:
            part = pending.pop(0)
            if self._too_big(part, size):
                half = len(part) // 2
                pending[:0] = [part[:half], part[half:]]
                continue
            failed = False
            try:
                result = fn(part)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled
                if not is_out_of_memory(exc) or len(part) == 1:
                    raise
                failed = True
            if failed:
                # Outside the except block: the exception, its traceback and the failed
                # forward's tensors are gone now, so the memory can really be given back.
                self.ooms += 1
                tried = size(part)
                self.failed_size = tried if self.failed_size is None else min(self.failed_size, tried)
                _release_device_memory()
                half = len(part) // 2
                log.warning("out of device memory on a batch of %d documents (size %d); "
                            "retrying as %d + %d, and splitting batches of size >= %d from now on",
                            len(part), tried, half, len(part) - half, self.failed_size)
                pending[:0] = [part[:half], part[half:]]
                continue
            yield part, result


def run_with_oom_backoff(rows: list[int], fn: Callable[[list[int]], T],
                         backoff: OomBackoff | None = None,
                         size: Callable[[list[int]], int] = len) -> Iterator[tuple[list[int], T]]:
    """Run ``fn`` on ``rows``; on out-of-memory, halve the batch and retry.

    Parameters
    ----------
    rows : list of int
        Row positions of one batch.
    fn : callable
        Runs the model on a list of row positions.
    backoff : OomBackoff, optional
        Keeps what failed across calls (a worker's); a fresh one when not given.
    size : callable
        The memory measure of a part (default: its row count).

    Yields
    ------
    tuple
        ``(rows_part, fn(rows_part))`` pairs covering ``rows`` in order.

    Raises
    ------
    Exception
        Any error of ``fn`` that is not an out-of-memory error, at once; an
        out-of-memory error of a single row, since nothing smaller can be tried.

    Examples
    --------
    >>> list(run_with_oom_backoff([0, 1, 2], lambda part: len(part)))
    [([0, 1, 2], 3)]
    """
    return (backoff or OomBackoff()).run(rows, fn, size)
