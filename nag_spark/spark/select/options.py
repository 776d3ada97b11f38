"""What a baseline selection is asked to do (:class:`SelectOptions`) and what it did
(:class:`SelectResult`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ...kernels.selection import DEFAULT_BINS, DEFAULT_MAX_BOUNDARY_ROWS

#: The baseline selectors, in the order the CLI lists them.
METHODS = ("random", "dsir", "bm25", "embedding")


@dataclass(frozen=True)
class SelectOptions:
    """What to select and how (the options of ``jobs/select.py``).

    Parameters
    ----------
    method : {"random", "dsir", "bm25", "embedding"}
        The baseline scoring the pool (higher score = better for the method).
    target : str
        One target: a name from ``conf/targets.yaml`` or an inline ``COL=VALUE[|VALUE]``.
    pool_docs, target_docs : str
        Text tables (parquet file or folder, JSONL, Delta) of the pool and of the rows
        holding the target examples (the same table: target rows leave the pool).
    output : str
        Selection Delta table to write.
    fraction : float
        Token fraction in (0, 1].
    seed : int
        Seed of ``random`` (the other methods are deterministic without one).
    dsir_length_norm : bool
        DSIR scores a document by the mean log importance weight of its n-grams (True, the
        default) or by their sum (False: the estimator of ``data-selection`` as written,
        which under a token budget favours the shortest documents).
    dsir_ngrams, dsir_buckets : int
        DSIR's n-gram order and hash buckets (the package's defaults: 2 and 10000).
    bm25_k1, bm25_b : float
        BM25 parameters (``bm25s`` defaults, Lucene variant).
    embedding_batch : int
        Documents per forward pass of the sentence encoder.
    token_model : str
        Tokenizer counting ``token_num`` when a docs table has none (as extraction does:
        the whole text, no special tokens).
    payload_cols : sequence of str
        Extra pool columns copied into the selection.
    experiment, run_name : str, optional
        MLflow experiment and run name (default ``select-<method>-<target>``).
    track : bool
        Record an MLflow run (kind ``select``).
    mode : {"overwrite", "error"}
        What to do when the output table exists.
    targets_file : str, optional
        Target definitions (default ``conf/targets.yaml``).
    n_bins, max_boundary_rows, rows_per_group : int
        Of the exact selection (:func:`~nag_spark.spark.rank.selection.select_exact`).
    storage_level : str
        How the scored pool is kept between the selection's passes.
    """

    method: str
    target: str
    pool_docs: str
    target_docs: str
    output: str
    fraction: float = 0.2
    seed: int = 0
    dsir_length_norm: bool = True
    dsir_ngrams: int = 2
    dsir_buckets: int = 10000
    bm25_k1: float = 1.5
    bm25_b: float = 0.75
    embedding_batch: int = 32
    token_model: str = "smollm2-135m"
    payload_cols: Sequence[str] = ()
    experiment: str | None = None
    run_name: str | None = None
    track: bool = True
    mode: str = "overwrite"
    targets_file: str | None = None
    n_bins: int = DEFAULT_BINS
    max_boundary_rows: int = DEFAULT_MAX_BOUNDARY_ROWS
    rows_per_group: int = 1_000_000
    storage_level: str = "DISK_ONLY"


@dataclass
class SelectResult:
    """What :func:`~nag_spark.spark.select.run.run_selection` did."""

    run_id: str | None
    output_path: str
    output_version: int
    method: str
    target: str
    pool_docs: int
    pool_tokens: int
    target_docs: int
    budget: int
    selected_docs: int
    selected_tokens: int
    boundary_score: float | None
    excluded_target_rows: int = 0
    skipped_empty: int = 0
    method_params: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
