"""Token-budget batches and the CUDA out-of-memory back-off, on plain lists (no model, no GPU).

The back-off is driven by a fake model call that raises an out-of-memory error whenever it
is given more than ``limit`` rows. ``torch.cuda.empty_cache`` is replaced by a counter: on
a CPU-only machine it is a no-op anyway, and counting shows the back-off calls it.
"""
from __future__ import annotations

import pytest
import torch

from nag_spark.kernels.batching import run_with_oom_backoff, token_budget_batches


# ------------------------------------------------------------------ token_budget_batches

def test_batches_are_longest_first_and_within_budget():
    lengths = [3, 10, 0, 9, 2, 10, 1]
    batches = token_budget_batches(lengths, budget=20)
    assert batches == [[1, 5], [3, 0], [4, 6]]
    for batch in batches:
        assert len(batch) * max(lengths[i] for i in batch) <= 20


def test_budget_edges():
    # Exactly at the budget fits; one token over starts a new batch.
    assert token_budget_batches([5, 5, 5, 5], budget=20) == [[0, 1, 2, 3]]
    assert token_budget_batches([5, 5, 5, 5], budget=19) == [[0, 1, 2], [3]]
    assert token_budget_batches([5, 5, 5, 5], budget=5) == [[0], [1], [2], [3]]


def test_zero_length_rows_are_left_out():
    assert token_budget_batches([0, 0, 0], budget=10) == []
    assert token_budget_batches([], budget=10) == []
    assert token_budget_batches([0, 4, 0], budget=10) == [[1]]


def test_a_row_over_budget_forms_its_own_batch():
    assert token_budget_batches([50, 3, 3], budget=10) == [[0], [1, 2]]


def test_ties_keep_input_order_and_every_row_appears_once():
    lengths = [4, 7, 4, 7, 4, 1, 0, 7]
    batches = token_budget_batches(lengths, budget=14)
    flat = [i for b in batches for i in b]
    assert flat == [1, 3, 7, 0, 2, 4, 5]  # longest first, then by position
    assert sorted(flat) == [i for i, n in enumerate(lengths) if n > 0]


# ------------------------------------------------------------------ run_with_oom_backoff

@pytest.fixture
def empty_cache_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(1))
    return calls


def fake_model(limit: int, error=torch.cuda.OutOfMemoryError):
    """A model call that runs out of memory on more than ``limit`` rows."""
    seen = []

    def run(rows):
        seen.append(list(rows))
        if len(rows) > limit:
            raise error("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [r * 10 for r in rows]
    return run, seen


def test_no_oom_runs_the_batch_once(empty_cache_calls):
    run, seen = fake_model(limit=10)
    assert list(run_with_oom_backoff([4, 2, 7], run)) == [([4, 2, 7], [40, 20, 70])]
    assert seen == [[4, 2, 7]] and not empty_cache_calls


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError, RuntimeError])
def test_oom_halves_until_it_fits_and_covers_rows_in_order(empty_cache_calls, error):
    rows = [9, 3, 5, 1, 7, 2, 8]
    run, seen = fake_model(limit=2, error=error)
    parts = list(run_with_oom_backoff(rows, run))
    assert [i for part, _ in parts for i in part] == rows
    assert all(len(part) <= 2 for part, _ in parts)
    assert all(result == [r * 10 for r in part] for part, result in parts)
    assert seen[0] == rows and empty_cache_calls  # tried whole first, cache emptied on OOM


def test_oom_on_a_single_row_is_raised(empty_cache_calls):
    run, _ = fake_model(limit=0)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        list(run_with_oom_backoff([5], run))
    with pytest.raises(torch.cuda.OutOfMemoryError):
        list(run_with_oom_backoff([5, 6, 7], run))  # halves down to one row, then gives up


def test_other_errors_are_raised_at_once(empty_cache_calls):
    calls = []

    def broken(rows):
        calls.append(rows)
        raise ValueError("not an out-of-memory error")

    with pytest.raises(ValueError):
        list(run_with_oom_backoff([1, 2, 3, 4], broken))
    assert calls == [[1, 2, 3, 4]] and not empty_cache_calls

    def cpu_runtime_error(rows):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes"):
        list(run_with_oom_backoff([1, 2], cpu_runtime_error))


# ------------------------------------------------------------------ dense batches, learned cap

def test_documents_that_fill_max_length_get_unpadded_batches():
    lengths = [120, 80, 120, 120, 64, 120]
    batches = token_budget_batches(lengths, budget=480, dense_length=120)
    assert batches == [[0, 2, 3, 5], [1, 4]]
    assert token_budget_batches(lengths, budget=480) == [[0, 2, 3, 5], [1, 4]]  # here the same
    # Without the rule the 80-token document would share the last full batch's padding.
    lengths = [120, 120, 120, 80, 80]
    assert token_budget_batches(lengths, budget=480) == [[0, 1, 2, 3], [4]]
    assert token_budget_batches(lengths, budget=480, dense_length=120) == [[0, 1, 2], [3, 4]]


def test_a_size_that_failed_is_split_up_front_later():
    from nag_spark.kernels.batching import OomBackoff

    backoff = OomBackoff()
    run, seen = fake_model(limit=3)
    parts = list(backoff.run(list(range(8)), run))
    # 8 fails, then the first 4 fails; the second 4 is split before it runs (learned).
    assert [len(p) for p, _ in parts] == [2, 2, 2, 2] and backoff.ooms == 2
    assert backoff.failed_size == 4  # the smallest size that ran out of memory
    seen.clear()
    parts = list(backoff.run(list(range(10, 18)), run))
    assert [len(p) for p, _ in parts] == [2, 2, 2, 2] and backoff.ooms == 2  # no new OOM
    assert all(len(rows) < 4 for rows in seen)  # nothing of the failed size was tried again
    # The size measure is the caller's: padded tokens in the worker.
    tokens = OomBackoff()
    widths = {0: 100, 1: 100, 2: 10, 3: 10}

    def padded(rows):
        return len(rows) * max(widths[r] for r in rows)

    def run_tokens(rows):
        if padded(rows) > 150:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return rows
    assert [p for p, _ in tokens.run([0, 1], run_tokens, size=padded)] == [[0], [1]]
    assert tokens.failed_size == 200
    assert [p for p, _ in tokens.run([2, 3], run_tokens, size=padded)] == [[2, 3]]  # 20 tokens fit


def test_the_failed_attempt_is_freed_before_the_cache_is_emptied(monkeypatch):
    """The failed forward's tensors (here an object in a reference cycle, as frames often
    are) must be gone when the CUDA cache is emptied and the smaller batch retried."""
    import gc
    import weakref

    from nag_spark.kernels.batching import run_with_oom_backoff

    class Activations:
        pass

    refs, freed_at_empty = [], []
    monkeypatch.setattr(torch.cuda, "empty_cache",
                        lambda: freed_at_empty.append(all(r() is None for r in refs)))

    def run(rows):
        held = Activations()
        held.cycle = held  # only the garbage collector frees it
        refs.append(weakref.ref(held))
        if len(rows) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return rows

    gc.disable()  # so that only an explicit collection can free the cycle
    try:
        assert [p for p, _ in run_with_oom_backoff([1, 2], run)] == [[1], [2]]
    finally:
        gc.enable()
    assert freed_at_empty == [True]


@pytest.mark.parametrize("message, oom", [
    ("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`", True),
    ("CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`", True),
    ("CUDA error: out of memory", True),
    ("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasGemmEx(...)`", False),
    ("CUDA error: device-side assert triggered", False)])
def test_cublas_allocation_failures_back_off_too(empty_cache_calls, message, oom):
    def run(rows):
        if len(rows) > 1:
            raise RuntimeError(message)
        return rows
    if oom:
        assert [p for p, _ in run_with_oom_backoff([1, 2, 3], run)] == [[1], [2], [3]]
    else:
        with pytest.raises(RuntimeError, match="CUDA error"):
            list(run_with_oom_backoff([1, 2, 3], run))
