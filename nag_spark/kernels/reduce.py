"""The two reductions of the NAG hook: mean |o| over valid tokens, and the top-K indices.

Both are the spec of DESIGN.md §1 in code and are written for the device: no copy of the
whole ``(B, T, N)`` projection output in fp32, no full sort of ``N`` impacts.

Mean |o| over valid tokens (:func:`mean_abs_over_valid`)
    ``|o|`` is taken once in the output's dtype, padded positions are set to exactly 0
    (``masked_fill``, so a NaN or inf that an attention backend leaves in a fully masked
    row never reaches an impact: ``0 * NaN`` would), then summed over tokens:

    - fp32 outputs: the same ``bmm`` with the 0/1 token weights as the original kernel, on
      the same operands except that padded entries are 0 instead of finite values that the
      weight 0 cancelled. ``0 * x`` is ``+0`` either way, so the result is **bitwise the
      original's** whenever the padded values are finite (and finite where they are not).
    - bf16/fp16 outputs: ``sum(dim=1, dtype=float32)``. On CUDA the reduction reads the
      low-precision values and accumulates in fp32 without materialising an fp32 copy (a
      special case of PyTorch's reduction kernels); on CPU it upcasts internally. The
      original kernel upcast the whole tensor and used an fp32 ``bmm``: both add the same
      exactly representable fp32 terms in fp32, in a different order. So each impact
      equals the original's up to fp32 reassociation: ``|new - old| <= 2 (T - 1) 2^-24 x
      old`` for ``T`` valid tokens (1.4e-5 relative at T = 120; measured on CPU: 99.9% of
      impacts bitwise equal, the rest within 1e-7 relative), and the top-K is the same
      wherever the K-th and (K+1)-th impacts are further apart than that.

Top-K (:func:`top_k_indices`)
    Lower neuron index first on ties (the rule a stable descending sort gives). Instead
    of sorting all N values, each fp32 impact is mapped to an int64 key: its bit pattern
    as an order-preserving integer in the high 32 bits, ``N - 1 - index`` in the low 32
    bits. Keys are distinct, ``torch.topk`` on them is exact and returns them in
    decreasing order, and on equal impacts the larger low word, i.e. the lower index,
    comes first: the stable sort's order exactly, for every input without NaN (-0.0 is
    taken as +0.0, as the sort compares them equal). Other dtypes use the stable sort.
"""
from __future__ import annotations

import torch

from ..errors import InputError


def mean_abs_over_valid(out: torch.Tensor, weights: torch.Tensor, counts: torch.Tensor,
                        pad: torch.Tensor | None) -> torch.Tensor:
    """``mean over valid tokens of |out|`` per document and neuron, float32 ``(B, N)``.

    Parameters
    ----------
    out : Tensor, shape (B, T, N)
        A projection output (any float dtype).
    weights : Tensor, shape (B, 1, T), float32
        1 for valid tokens, 0 for padding (used by the fp32 path).
    counts : Tensor, shape (B, 1), float32
        Valid tokens per document.
    pad : Tensor of bool, shape (B, T, 1), optional
        True at padded positions; ``None`` when the batch has no padding.

    Examples
    --------
    >>> out = torch.tensor([[[float("nan"), 1.0], [-2.0, 4.0], [2.0, 0.0]]])
    >>> pad = torch.tensor([[[True], [False], [False]]])
    >>> w, n = torch.tensor([[[0.0, 1.0, 1.0]]]), torch.tensor([[2.0]])
    >>> mean_abs_over_valid(out, w, n, pad).tolist()
    [[2.0, 2.0]]
    """
    a = out.abs()  # a new tensor: the module's own output is used downstream, never touched
    if pad is not None:
        a.masked_fill_(pad, 0)
    if a.dtype == torch.float32:
        return torch.bmm(weights, a).squeeze(1) / counts
    # bf16 sums over 120 tokens in bf16 would create spurious ties: accumulate in fp32.
    return a.sum(dim=1, dtype=torch.float32) / counts


_LOW = (1 << 32) - 1


def _order_key(impact: torch.Tensor) -> torch.Tensor:
    """int64 keys whose order is (impact descending, index ascending) as a max-order."""
    n = impact.shape[-1]
    bits = (impact + 0.0).contiguous().view(torch.int32).to(torch.int64)  # + 0.0: -0 -> +0
    # IEEE floats order as sign-magnitude integers: flip the magnitude of negatives.
    ordered = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    index = torch.arange(n, device=impact.device, dtype=torch.int64)
    return (ordered << 32) | (n - 1 - index)


def top_k_indices(impact: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` largest values along the last axis, lower index first on ties.

    Parameters
    ----------
    impact : Tensor, shape (..., N)
    k : int

    Returns
    -------
    Tensor, shape (..., k), int64, in decreasing impact order.

    Examples
    --------
    >>> top_k_indices(torch.tensor([[1.0, 3.0, 3.0, 2.0]]), 2).tolist()
    [[1, 2]]
    >>> top_k_indices(torch.tensor([0.0, -0.0, 0.0]), 3).tolist()
    [0, 1, 2]
    """
    n = impact.shape[-1]
    if k > n:
        raise InputError(f"top-K {k} is larger than the number of neurons {n}")
    if impact.dtype != torch.float32:
        return torch.sort(impact, dim=-1, descending=True, stable=True).indices[..., :k]
    keys = torch.topk(_order_key(impact), k, dim=-1, largest=True, sorted=True).values
    return (n - 1) - (keys & _LOW)
