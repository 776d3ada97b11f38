"""Neuron deactivation (DESIGN.md §1 variants): switch off the most NAG-frequent neurons.

The NAG paper's analysis: take, per layer, the ``fwd_up`` neurons that appear most often in
the target's NAGs, zero them in the model, and measure how much the model gets worse on the
target's texts, against switching off as many random neurons. (The paper: 0.12% of the
neurons, a 23.5% collapse.)

Why zeroing a row of ``mlp.up_proj.weight`` switches a neuron off: in the SwiGLU MLP
``down(act(gate(x)) * up(x))`` the ``fwd_up`` neuron ``n`` is output ``n`` of ``up_proj``,
i.e. row ``n`` of its weight (plus bias ``n``). With that row zero, ``up(x)[n] = 0`` for
every input, so the product is 0 and column ``n`` of ``down_proj`` receives nothing: the
neuron contributes nothing to the residual stream, whatever the gate does.

The effect measure is the mean next-token cross-entropy over the target texts: the lower the
loss, the better the model predicts the target; deactivation raises it.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch

from ..errors import ConfigError, InputError
from .impact import base_model_of, decoder_layers, left_pad
from .profile import TargetProfile

#: Share of all ``up_proj`` neurons deactivated in the NAG paper's analysis (0.12%).
PAPER_SHARE = 0.0012

NeuronSelection = Mapping[int, np.ndarray]


def top_target_neurons(profile: TargetProfile, per_layer: int | None = None,
                       share: float | None = None) -> dict[int, np.ndarray]:
    """Per layer, the neurons that appear most often in the target's NAGs.

    Parameters
    ----------
    profile : TargetProfile
        Built from ``fwd_up`` target NAGs; its weights rank the neurons (weights are counts
        normalised per layer, raised to a positive power: the order is the count order).
    per_layer : int, optional
        Neurons taken in each layer.
    share : float, optional
        Alternatively, the share of each layer's neurons to take, in (0, 1]:
        ``max(1, round(share * N))`` per layer. When neither is given, the paper's
        :data:`PAPER_SHARE` (0.12%).

    Returns
    -------
    dict of int to ndarray
        For every layer of ``profile.layers``, int64 neuron indices in decreasing frequency,
        the lower index first among equal counts. Only neurons that appear in at least one
        target NAG are eligible, so a layer may get fewer than asked.

    Raises
    ------
    InputError
        Both or an invalid ``per_layer`` / ``share``.

    Examples
    --------
    >>> p = TargetProfile.from_nags(np.array([[2, 1, 0, 3], [2, 0, 3, 1]]), 2, 2, 4)
    >>> {l: v.tolist() for l, v in top_target_neurons(p, per_layer=2).items()}
    {0: [2, 0], 1: [3, 0]}
    """
    n = profile.n_neurons
    if per_layer is not None and share is not None:
        raise InputError("give either --per-layer or --share, not both")
    if per_layer is None:
        share = PAPER_SHARE if share is None else float(share)
        if not np.isfinite(share) or not 0 < share <= 1:
            raise InputError(f"--share must be in (0, 1], got {share}")
        # At least one per layer: a share below 1/N must still switch something off.
        per_layer = max(1, int(round(share * n)))
    per_layer = int(per_layer)
    if not 0 < per_layer <= n:
        raise InputError(f"--per-layer must be in [1, {n}] (N of fwd_up), got {per_layer}")
    out: dict[int, np.ndarray] = {}
    for layer in profile.layers:
        w = profile.weights[layer]
        # A stable sort of -w keeps the lower index first among equal weights; equal counts
        # give bit-identical weights (same division by the same layer total).
        order = np.argsort(-w, kind="stable")[:per_layer]
        out[int(layer)] = order[w[order] > 0].astype(np.int64)
    return out


def random_neurons_like(selection: NeuronSelection, n_neurons: int, seed: int = 0) -> dict[int, np.ndarray]:
    """Random neurons, as many per layer as ``selection`` has: the control condition.

    Drawn uniformly without replacement from all ``n_neurons`` of the layer (the NAG
    neurons are not excluded: the control is "any neurons", as in the paper).

    Parameters
    ----------
    selection : mapping of int to array
        Per layer, the neurons whose counts are matched.
    n_neurons : int
        N of the layer.
    seed : int
        The same seed gives the same neurons. Each layer draws from its own stream
        ``(seed, layer)``, so a layer's draw does not depend on which other layers exist.

    Returns
    -------
    dict of int to ndarray
        Sorted int64 indices per layer.

    Examples
    --------
    >>> r = random_neurons_like({0: np.array([5, 1]), 3: np.array([7])}, 10, seed=1)
    >>> {l: len(v) for l, v in r.items()}
    {0: 2, 3: 1}
    """
    out: dict[int, np.ndarray] = {}
    for layer, idx in selection.items():
        count = len(idx)
        if count > n_neurons:
            raise InputError(f"layer {layer}: {count} neurons asked, only {n_neurons} exist")
        rng = np.random.default_rng([int(seed), int(layer)])
        out[int(layer)] = np.sort(rng.choice(n_neurons, size=count, replace=False)).astype(np.int64)
    return out


def _up_projs(model: torch.nn.Module) -> Sequence[torch.nn.Module]:
    layers = decoder_layers(base_model_of(model))
    ups = []
    for li, layer in enumerate(layers):
        try:
            ups.append(layer.get_submodule("mlp.up_proj"))
        except AttributeError:
            raise ConfigError(f"unsupported architecture {type(model).__name__}: decoder layer "
                              f"{li} has no module 'mlp.up_proj'") from None
    return ups


def up_proj_neuron_count(model: torch.nn.Module) -> int:
    """All ``fwd_up`` neurons of the model: the sum of ``up_proj`` output sizes over layers."""
    return int(sum(up.weight.shape[0] for up in _up_projs(model)))


@contextlib.contextmanager
def deactivated(model: torch.nn.Module, neurons: NeuronSelection) -> Iterator[torch.nn.Module]:
    """Zero the ``up_proj`` rows (and bias entries) of ``neurons`` while the block runs.

    Parameters
    ----------
    model : torch.nn.Module
        A CausalLM or base model with the Llama/Qwen3 layout; changed in place.
    neurons : mapping of int to array
        Per decoder layer, ``fwd_up`` neuron indices to switch off.

    Yields
    ------
    torch.nn.Module
        ``model``, with the neurons off.

    Notes
    -----
    Only the chosen rows are saved (not a copy of the model), and they are written back on
    exit, also when the block raises, so the model is bit-for-bit what it was before.

    Examples
    --------
    >>> with deactivated(model, {0: np.array([3, 7])}):     # doctest: +SKIP
    ...     loss = lm_loss(model, token_lists, pad_id)
    """
    ups = _up_projs(model)
    saved = []
    try:
        with torch.no_grad():
            for layer, idx in neurons.items():
                if not 0 <= int(layer) < len(ups):
                    raise InputError(f"layer {layer} out of range: the model has {len(ups)} layers")
                up = ups[int(layer)]
                rows = np.unique(np.asarray(idx, dtype=np.int64))
                if rows.size == 0:
                    continue
                if rows[0] < 0 or rows[-1] >= up.weight.shape[0]:
                    raise InputError(f"layer {layer}: neuron index out of range "
                                     f"[0, {up.weight.shape[0]})")
                index = torch.from_numpy(rows).to(up.weight.device)
                bias = up.bias if getattr(up, "bias", None) is not None else None
                # Saved before zeroing and appended at once, so an error in a later layer
                # still restores every layer already changed.
                saved.append((up, index, up.weight[index].clone(),
                              None if bias is None else bias[index].clone()))
                up.weight[index] = 0
                if bias is not None:
                    bias[index] = 0
        yield model
    finally:
        with torch.no_grad():
            for up, index, weight_rows, bias_rows in reversed(saved):
                up.weight[index] = weight_rows
                if bias_rows is not None:
                    up.bias[index] = bias_rows


def tokenize_texts(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids of each text as in DESIGN.md §1 step 1: no special tokens, first ``max_length``."""
    if max_length < 2:
        raise InputError(f"--max-length must be at least 2 to predict a token, got {max_length}")
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [list(t[:max_length]) for t in ids]


def predicted_tokens(token_lists: Sequence[Sequence[int]]) -> int:
    """How many next-token predictions :func:`lm_loss` averages over (``len - 1`` per text)."""
    return int(sum(max(len(t) - 1, 0) for t in token_lists))


@torch.inference_mode()
def lm_loss(model: torch.nn.Module, token_lists: Sequence[Sequence[int]], pad_id: int,
            batch_size: int = 8) -> float:
    """Mean next-token cross-entropy (nats) over all predicted tokens of all texts.

    Parameters
    ----------
    model : torch.nn.Module
        A causal LM (its forward returns ``logits``).
    token_lists : sequence of sequence of int
        Token ids per text; texts with fewer than 2 tokens predict nothing and are skipped.
    pad_id : int
        Any valid token id: padded positions are masked out of attention and loss.
    batch_size : int
        Texts per forward pass.

    Returns
    -------
    float
        Token-weighted mean over every (text, position) pair, so long texts weigh more, as in
        a language-modelling loss over a corpus.

    Notes
    -----
    Texts are left padded and length-sorted into batches (less padding); position ids come
    from the attention mask, so a text's loss does not depend on its batch.
    """
    texts = [list(t) for t in token_lists if len(t) >= 2]
    if not texts:
        raise InputError("no text has 2 or more tokens: there is no next token to predict")
    if batch_size <= 0:
        raise InputError(f"batch size must be positive, got {batch_size}")
    device = next(model.parameters()).device
    texts.sort(key=len)
    total, count = 0.0, 0
    for start in range(0, len(texts), batch_size):
        ids, mask = left_pad(texts[start:start + batch_size], pad_id, device)
        position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids, use_cache=False)
        logits = getattr(out, "logits", None)
        if logits is None:
            raise ConfigError(f"{type(model).__name__} returns no logits: the loss needs a causal "
                              "LM with its LM head (AutoModelForCausalLM), not a base model")
        # Position t predicts token t+1; with left padding a valid target's predecessor is
        # valid too, except at the first valid token, which the previous-token mask drops.
        valid = (mask[:, 1:] * mask[:, :-1]).bool()
        losses = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().transpose(1, 2), ids[:, 1:], reduction="none")
        total += float(losses[valid].double().sum())
        count += int(valid.sum())
    return total / count


def _selection_size(neurons: NeuronSelection) -> dict[int, int]:
    return {int(layer): len(np.unique(np.asarray(idx))) for layer, idx in neurons.items()}


def deactivation_effect(model: torch.nn.Module, tokenizer, texts: Sequence[str],
                        neurons: NeuronSelection, random_neurons: NeuronSelection, *,
                        max_length: int = 64, batch_size: int = 8,
                        pad_id: int | None = None) -> dict:
    """The loss on ``texts`` with all neurons on, NAG neurons off, and random neurons off.

    Parameters
    ----------
    model : torch.nn.Module
        A causal LM (restored to its original weights afterwards).
    tokenizer : transformers tokenizer
        Its ``__call__`` gives ``input_ids``.
    texts : sequence of str
        The target's texts.
    neurons, random_neurons : mapping of int to array
        The NAG neurons (:func:`top_target_neurons`) and the control
        (:func:`random_neurons_like`), with the same count per layer.
    max_length : int
        Tokens kept per text.
    batch_size : int
        Texts per forward pass.
    pad_id : int, optional
        Padding id (default: the tokenizer's pad, else EOS, else 0; it is masked out).

    Returns
    -------
    dict
        ``base_loss``, ``nag_off_loss``, ``random_off_loss``; ``nag_off_rel_change`` and
        ``random_off_rel_change`` (``(loss - base) / base``); ``n_neurons_off`` (per
        condition), ``n_up_proj_neurons`` (all layers), ``neuron_share``
        (``n_neurons_off / n_up_proj_neurons``), ``n_layers``; ``n_texts``, ``n_skipped``
        (texts with fewer than 2 tokens) and ``n_predicted_tokens``.

    Raises
    ------
    InputError
        The two selections differ in their count per layer, or no text is usable.
    """
    sizes = _selection_size(neurons)
    if sizes != _selection_size(random_neurons):
        raise InputError("the random control must switch off as many neurons per layer as the "
                         "NAG selection")
    token_lists = tokenize_texts(tokenizer, texts, max_length)
    if pad_id is None:
        # Any id works (padded positions are masked); prefer the tokenizer's own.
        pad_id = next((i for i in (getattr(tokenizer, "pad_token_id", None),
                                   getattr(tokenizer, "eos_token_id", None)) if i is not None), 0)
    base = lm_loss(model, token_lists, pad_id, batch_size)
    with deactivated(model, neurons):
        nag_off = lm_loss(model, token_lists, pad_id, batch_size)
    with deactivated(model, random_neurons):
        random_off = lm_loss(model, token_lists, pad_id, batch_size)
    n_off = int(sum(sizes.values()))
    n_all = up_proj_neuron_count(model)
    return {
        "base_loss": base,
        "nag_off_loss": nag_off,
        "random_off_loss": random_off,
        "nag_off_rel_change": (nag_off - base) / base,
        "random_off_rel_change": (random_off - base) / base,
        "n_neurons_off": n_off,
        "n_up_proj_neurons": n_all,
        "neuron_share": n_off / n_all,
        "n_layers": sum(1 for v in sizes.values() if v),
        "n_texts": sum(1 for t in token_lists if len(t) >= 2),
        "n_skipped": sum(1 for t in token_lists if len(t) < 2),
        "n_predicted_tokens": predicted_tokens(token_lists),
    }
