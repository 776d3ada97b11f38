"""Is a selection any good? Train a proxy LM on it and score held-out target texts.

- :mod:`.options` — :class:`EvaluateOptions`, what ``jobs/evaluate.py`` asks for;
- :mod:`.tokens` — token streams and the equal-token rule;
- :mod:`.training` — the one training schedule and the eval scoring;
- :mod:`.proxy_tiny`, :mod:`.proxy_smollm2` — the two proxies;
- :mod:`.ngram`, :mod:`.dsir_kl` — cheap second opinions;
- :mod:`.overlap` — refusing eval texts that are not held out;
- :mod:`.run` — :func:`run_evaluation`, the whole job (Spark reads, the driver trains).
"""
from .options import EvaluateOptions

__all__ = ["EvaluateOptions"]
