"""Distributed NAG extraction: documents in, a features Delta table out.

:func:`run_extraction` is the one entry point that ``jobs/extract.py``, the demo and the
Databricks notebooks call. What it does, in order:

1. resolve the options into an :class:`ExtractPlan` (:mod:`.plan`): the model and its
   lineage facts (L, N per type, weights digest) are read on the driver; no weights are
   loaded there;
2. refuse early (before any model work) when the output table exists with other lineage
   properties;
3. read and validate the input (:mod:`nag_spark.spark.inputs`, one scan of the docids);
4. split the input into work units, slices of its files (:mod:`.units`), check or create
   the output table and skip every unit already committed (:mod:`.table_state`);
5. run all pending units as one Spark job, one task per unit (:mod:`.worker`: models kept
   per worker by a :class:`ModelCache`, tokenization of the next segment overlapping the
   model), while the driver commits each finished unit with its Delta transaction
   identifier (:mod:`.committer`, :mod:`.job_runner`): exactly once, under task retries,
   speculation, crashes and concurrent jobs;
6. log progress lines from live counts (:mod:`.progress`) and record an MLflow run of kind
   ``extract`` (:mod:`nag_spark.tracking.extract_run`), busy share of the task slots
   included.

Settings read from the Spark conf (``spark.nag.*``, profile or ``--conf``; env
``NAG_EXTRACT_...`` wins): ``extract.device`` (auto|cpu|cuda), ``extract.batch_tokens``,
``extract.chunk_docs`` (the most rows of a work unit), ``extract.threads`` (default
``spark.task.cpus``), ``extract.cpu_calibration`` (on|off), ``model.cache_dir``,
``extract.load_log`` (a file where each model load appends a line).

Modules: :mod:`.options` (what was asked, what was done), :mod:`.plan` (validation and
resolution), :mod:`.worker_config` (what the workers get), :mod:`.model_cache`,
:mod:`.units`, :mod:`.unit_reader`, :mod:`.worker` (one unit in a task), :mod:`.job_files`,
:mod:`.table_state`, :mod:`.committer`, :mod:`.job_runner`, :mod:`.progress`, :mod:`.run`
(the driver's story).
"""
from .model_cache import ModelCache
from .options import DEFAULT_BATCH_TOKENS, DEFAULT_CHUNK_DOCS, ExtractOptions, ExtractResult
from .plan import ExtractPlan, plan_extraction
from .run import run_extraction
from .worker import extract_unit
from .worker_config import WorkerConfig

__all__ = [
    "ExtractOptions", "ExtractResult", "run_extraction",
    "ExtractPlan", "plan_extraction", "WorkerConfig", "ModelCache", "extract_unit",
    "DEFAULT_BATCH_TOKENS", "DEFAULT_CHUNK_DOCS",
]
