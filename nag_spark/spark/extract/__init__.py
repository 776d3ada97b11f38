"""Distributed NAG extraction: documents in, a features Delta table out.

:func:`run_extraction` is the one entry point that ``jobs/extract.py``, the demo and the
Databricks notebooks call. What it does, in order:

1. resolve the options into an :class:`ExtractPlan` (:mod:`.plan`): the model and its
   lineage facts (L, N per type, weights digest) are read on the driver; no weights are
   loaded there;
2. refuse early (before any model work) when the output table exists with other lineage
   properties;
3. read and validate the input (:mod:`nag_spark.spark.inputs`);
4. keep only docids not yet in the output (resume), split them into chunks and, per chunk,
   run the model in ``mapInArrow`` (:mod:`.worker`, models kept per worker by a
   :class:`ModelCache`) and commit the chunk with ``insert_if_absent``: a run killed
   midway keeps every committed chunk and a re-run completes the table with no duplicate;
5. log progress lines (documents done, docs/s, ETA, :mod:`.progress`) and record an MLflow
   run of kind ``extract`` (:mod:`nag_spark.tracking.extract_run`).

Settings read from the Spark conf (``spark.nag.*``, profile or ``--conf``; env
``NAG_EXTRACT_...`` wins): ``extract.device`` (auto|cpu|cuda), ``extract.batch_tokens``,
``extract.chunk_docs``, ``extract.threads`` (default ``spark.task.cpus``),
``model.cache_dir``, ``extract.load_log`` (a file where each model load appends a line).

Modules: :mod:`.options` (what was asked, what was done), :mod:`.plan` (validation and
resolution), :mod:`.worker_config` (what the workers get), :mod:`.model_cache`,
:mod:`.worker` (the batch loop), :mod:`.progress`, :mod:`.run` (the driver's story).
"""
from .model_cache import ModelCache
from .options import DEFAULT_BATCH_TOKENS, DEFAULT_CHUNK_DOCS, ExtractOptions, ExtractResult
from .plan import ExtractPlan, plan_extraction
from .run import run_extraction
from .worker import extract_batches
from .worker_config import WorkerConfig

__all__ = [
    "ExtractOptions", "ExtractResult", "run_extraction",
    "ExtractPlan", "plan_extraction", "WorkerConfig", "ModelCache", "extract_batches",
    "DEFAULT_BATCH_TOKENS", "DEFAULT_CHUNK_DOCS",
]
