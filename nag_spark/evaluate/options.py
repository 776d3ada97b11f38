"""What an evaluation run is asked to do (the frozen options of ``jobs/evaluate.py``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

PROXIES = ("tiny", "smollm2-135m")


@dataclass(frozen=True, kw_only=True)
class EvaluateOptions:
    """Options of :func:`~nag_spark.evaluate.run.run_evaluation`.

    Attributes
    ----------
    selections : tuple of str
        Selection Delta tables (as ``jobs/rank.py`` or ``jobs/select.py`` write them).
    pool_docs : str
        Text table (parquet, JSONL or Delta; ``docid``, ``doc``) holding the selected docs.
    eval_docs : str
        Text table holding the eval texts.
    eval_filters : tuple of str
        ``COL=VALUE[|VALUE]`` filters (or target names of ``conf/targets.yaml``); each is one
        eval set, labelled by its filter.
    target_docs : str, optional
        Text table holding the target examples that built each selection's profile, for
        the overlap check; default ``eval_docs``.
    target : str, optional
        Evaluate only this target's rows of each selection table.
    per_target : bool
        Evaluate every target of a multi-target table separately (default: the whole table,
        i.e. the mixture, as one selection).
    proxy : {"tiny", "smollm2-135m"}
    tokens : int, optional
        ``N`` training tokens per selection; default the shortest selection's.
    short : {"refuse", "repeat"}
        A selection with fewer than ``N`` tokens is refused or its text repeated.
    seeds : int
        Trainings per selection (seeds 0..seeds-1: initialisation and data order).
    eval_max_docs : int, optional
        Eval texts per eval set, a fixed sample (by md5 of the docid); None: all.
    seq_len, batch : int
        Proxy sequence length and batch (sequences per step).
    lr : float, optional
        Peak learning rate; default 3e-3 for ``tiny``, 1e-5 for ``smollm2-135m``.
    output_json : str, optional
    experiment, run_name : str, optional
    track : bool
        Log a ``nag.kind=evaluate`` MLflow run.
    targets_file : str, optional
        Target definitions (default ``conf/targets.yaml``).
    """

    selections: tuple[str, ...]
    pool_docs: str
    eval_docs: str
    eval_filters: tuple[str, ...]
    target_docs: str | None = None
    target: str | None = None
    per_target: bool = False
    proxy: str = "tiny"
    tokens: int | None = None
    short: str = "refuse"
    seeds: int = 3
    eval_max_docs: int | None = 1000
    seq_len: int = 128
    batch: int = 8
    lr: float | None = None
    output_json: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    track: bool = True
    targets_file: str | None = None

    def check(self) -> None:
        """Refuse inconsistent options before any work, naming the option."""
        if not self.selections:
            raise InputError("--selections names no selection table")
        if len(set(self.selections)) != len(self.selections):
            raise InputError("--selections names a table twice")
        if not self.eval_filters:
            raise InputError("--eval-filter is required (e.g. dataset=hellaswag_val)")
        if self.proxy not in PROXIES:
            raise InputError(f"--proxy must be one of {', '.join(PROXIES)}, got {self.proxy!r}")
        if self.seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {self.seeds}")
        if self.tokens is not None and self.tokens <= 0:
            raise InputError(f"--tokens must be positive, got {self.tokens}")
        if self.eval_max_docs is not None and self.eval_max_docs <= 0:
            raise InputError(f"--eval-max-docs must be positive, got {self.eval_max_docs}")
        if self.seq_len < 2 or self.batch < 1:
            raise InputError("--seq-len must be at least 2 and --batch at least 1")
        if self.target and self.per_target:
            raise InputError("--target and --per-target exclude each other")

    @property
    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else (3e-3 if self.proxy == "tiny" else 1e-5)
