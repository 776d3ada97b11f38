"""What an extraction is asked to do (:class:`ExtractOptions`) and what it did
(:class:`ExtractResult`).

The options are what a user typed, kept as given; :mod:`.plan` validates and resolves them
into an :class:`~nag_spark.spark.extract.plan.ExtractPlan` without changing them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ...models import DEFAULT_MODEL

# Used when neither the options nor the conf (``spark.nag.extract.*``) say otherwise.
DEFAULT_BATCH_TOKENS = 4096
DEFAULT_CHUNK_DOCS = 20000


@dataclass(frozen=True)
class ExtractOptions:
    """What to extract (the options of ``jobs/extract.py``).

    Attributes
    ----------
    input, output : str
        Documents (parquet file/folder, JSONL, Delta) and the features Delta table.
    format : {"web", "final"}
    model : str
        ``smollm2-135m`` (default), a model folder, a hub id or ``FILE.gguf``.
    neuron_types : str or sequence of str
        Comma list or sequence out of ``fwd_up, fwd_down, att_q, att_k, att_v, att_o``.
    top_k, max_length : int
        K indices per layer; tokens kept per document.
    dtype : {"auto", "float32", "bfloat16"}
    batch_tokens, chunk_docs : int, optional
        Padded tokens per forward pass; documents per committed chunk (conf defaults).
    limit : int, optional
        Only the first ``limit`` input rows.
    carry : sequence of str
        Extra input columns copied into the table.
    device : str, optional
        ``auto`` (default from conf), ``cpu`` or ``cuda``.
    experiment, run_name : str, optional
        MLflow experiment and run name; ``track=False`` skips MLflow.
    progress_seconds : float
        Interval of progress log lines.

    Examples
    --------
    >>> opts = ExtractOptions(input="docs.parquet", output="features/pool")
    >>> opts.top_k, opts.max_length, opts.model
    (20, 120, 'smollm2-135m')
    """

    input: str
    output: str
    format: str = "web"
    model: str = DEFAULT_MODEL
    neuron_types: Sequence[str] | str = ("fwd_up",)
    top_k: int = 20
    max_length: int = 120
    dtype: str = "auto"
    batch_tokens: int | None = None
    chunk_docs: int | None = None
    limit: int | None = None
    carry: Sequence[str] = ()
    device: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    track: bool = True
    progress_seconds: float = 30.0


@dataclass
class ExtractResult:
    """What a run did. ``version`` is the table version after the run (None: no table).

    Examples
    --------
    >>> res = ExtractResult(output="t", version=0, docs_processed=10, tokens=500, seconds=2.0)
    >>> res.docs_per_s, res.tokens_per_s
    (5.0, 250.0)
    """

    output: str
    version: int | None
    docs_processed: int
    tokens: int
    seconds: float
    docs_already_present: int = 0
    docs_skipped_empty: int = 0
    docs_skipped_no_tokens: int = 0
    run_id: str | None = None
    properties: dict = field(default_factory=dict)
    units: int = 0                 # work units this run processed
    units_elsewhere: int = 0       # of those, committed first by another attempt or job
    invalid_utf8: int = 0          # documents whose invalid UTF-8 bytes were replaced
    busy_share: float = 1.0        # task-slot time spent extracting / (slots x job time)
    dtype_reason: str = ""         # why the dtype was chosen (dtype "auto")

    @property
    def docs_per_s(self) -> float:
        return self.docs_processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0
