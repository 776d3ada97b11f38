"""The ``smollm2-135m`` proxy: continued pretraining of the bundled SmolLM2-135M.

Small-learning-rate continued pretraining of a ~150M-parameter model is what the
data-selection literature found to rank data recipes reliably; it is meant for GPUs
(``cuda`` when available) but runs on CPU too, slowly. The weights are loaded once per run
and restored before every (selection, seed) training, so each training starts from the
same checkpoint; the seed varies the data order. The full output layer is used (the real
model's head): the loss is the model's own next-token loss, in float32.
"""
from __future__ import annotations

import torch

from ..models.loading import load_backbone
from ..models.spec import resolve_model_spec

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_LR = 1e-5


class CausalLMProxy(torch.nn.Module):
    """A Hugging Face causal LM seen through :func:`~nag_spark.evaluate.training.fit`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def target_logprobs(self, ids, mask):
        logits = self.model(input_ids=ids).logits[:, :-1].float()
        keep = mask[:, 1:]
        picked = logits[keep]
        return torch.log_softmax(picked, dim=-1).gather(1, ids[:, 1:][keep].unsqueeze(1)).squeeze(1)


class SmolLM2Proxy:
    """Loads the model once; :meth:`fresh` gives it back at its initial weights."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str | None = None):
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        bb = load_backbone(resolve_model_spec(model), dtype="float32", device=self.device,
                           with_lm_head=True)
        self.tokenizer = bb.tokenizer
        self.module = CausalLMProxy(bb.model)
        self._initial = {k: v.detach().clone() for k, v in bb.model.state_dict().items()}

    def fresh(self, seed: int) -> CausalLMProxy:
        """The model at its loaded weights, trainable (``seed`` seeds torch for dropout)."""
        torch.manual_seed(seed)
        self.module.model.load_state_dict(self._initial)
        self.module.model.requires_grad_(True)
        return self.module
