"""Token-budget batches and CUDA out-of-memory back-off (pure Python/torch, no Spark).

Documents are sorted by token count (longest first) inside each Arrow batch, then cut into
batches whose padded size ``rows × longest`` stays within a token budget: similar lengths
share a batch, so padding is small, and the budget bounds activation memory whatever the
lengths are.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence, TypeVar

from ..logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


def token_budget_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Split row positions into batches of at most ``budget`` padded tokens.

    Parameters
    ----------
    lengths : sequence of int
        Token count of each row (rows of length 0 are left out).
    budget : int
        Maximum ``len(batch) * max(length in batch)``; a single row longer than the budget
        still forms a batch of its own.

    Returns
    -------
    list of list of int
        Row positions, longest documents first.

    Examples
    --------
    >>> token_budget_batches([3, 10, 0, 9, 2], budget=20)
    [[1, 3], [0, 4]]
    """
    order = sorted((i for i, n in enumerate(lengths) if n > 0), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted longest first, so the batch's padded width is that of its first row.
        width = lengths[current[0]] if current else lengths[i]
        if current and (len(current) + 1) * width > budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _is_cuda_oom(exc: BaseException) -> bool:
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    return isinstance(exc, RuntimeError) and "CUDA out of memory" in str(exc)


def run_with_oom_backoff(rows: list[int], fn: Callable[[list[int]], T]) -> Iterator[tuple[list[int], T]]:
    """Run ``fn`` on ``rows``; on CUDA out-of-memory, halve the batch and retry.

    Parameters
    ----------
    rows : list of int
        Row positions of one batch.
    fn : callable
        Runs the model on a list of row positions.

    Yields
    ------
    tuple
        ``(rows_part, fn(rows_part))`` pairs covering ``rows`` in order.

    Raises
    ------
    Exception
        Any error of ``fn`` that is not a CUDA out-of-memory error, at once; an
        out-of-memory error of a single row, since nothing smaller can be tried.

    Examples
    --------
    >>> list(run_with_oom_backoff([0, 1, 2], lambda part: len(part)))
    [([0, 1, 2], 3)]
    """
    pending = [rows]
    while pending:
        part = pending.pop(0)
        try:
            result = fn(part)
        except Exception as exc:  # noqa: BLE001 - only CUDA OOM is handled, the rest re-raised
            if not _is_cuda_oom(exc) or len(part) == 1:
                raise
            import torch

            torch.cuda.empty_cache()
            half = len(part) // 2
            log.warning("CUDA out of memory on a batch of %d documents; retrying as %d + %d",
                        len(part), half, len(part) - half)
            pending[:0] = [part[:half], part[half:]]
            continue
        yield part, result
