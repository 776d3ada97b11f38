"""Worker side of extraction: one Spark task turns one work unit into one data file.

A task reads its unit (:mod:`.unit_reader`) and cuts it into large segments
(:func:`segment_rows`: thousands of documents). Each segment is tokenized in one call
(only the prefix that holds ``max_length`` tokens, :mod:`nag_spark.kernels.tokenize`), and
the model runs it in token-budget batches (:mod:`nag_spark.kernels.batching`): one call
keeps the tokenizer's per-call cost small, and sorting many documents by length keeps
padding small. On a GPU (and for CPU tasks of several cores) a side thread tokenizes the
next segment while the model runs the current one, so the model never waits for the
tokenizer (:func:`overlaps`). Rows go to one parquet file in the table folder, named after
the unit, the job and the task attempt; nothing is committed here. When the file is
complete the task writes a small *done* marker into the job's staging folder, which the
driver turns into a Delta commit (:mod:`.committer`). A heartbeat file per attempt carries
live counts for the driver's progress lines; it follows the model batches (at most one a
second), not the segments.

Each Python worker keeps its models in :data:`WORKER_MODELS` (a :class:`.ModelCache`), so a
model is loaded once per worker, not per task or job.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ...kernels.batching import OomBackoff, token_budget_batches
from ...kernels.tokenize import prefix_token_ids
from ...logs import get_logger
from ...models.device import bind_device, resolve_device
from ...models.dtype import verify_on_worker
from ...tables.nag_codec import empty_nags, encode_nags
from . import job_files
from .model_cache import ModelCache
from .unit_reader import read_unit
from .units import WorkUnit
from .worker_config import WorkerConfig

log = get_logger(__name__)

#: The models of this Python worker process, kept across tasks and jobs.
WORKER_MODELS = ModelCache()
#: Per model and device, the batch sizes that ran out of memory in this worker.
WORKER_BACKOFF: dict[tuple, OomBackoff] = {}


def set_threads(threads: int, device: str) -> None:
    """Bound torch's CPU threads for this task (one thread when a GPU does the work)."""
    import torch

    # Spark gives each concurrently running task spark.task.cpus cores, so with
    # threads = task cpus, (concurrent workers × threads) never exceeds the executor's cores.
    n = max(1, min(int(threads), os.cpu_count() or 1)) if device == "cpu" else 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@dataclass
class Segment:
    """A slice of a unit's rows, tokenized and ready for the model."""

    table: object                  # pyarrow.Table of the rows kept (text present, not skipped)
    tokens: list
    full_counts: list | None
    rows_in: int                   # rows of the unit this segment covers, kept or not
    empty: int = 0
    present: int = 0


def _is_empty(text) -> bool:
    # isspace() stops at the first visible character; strip() would copy the whole text.
    return text is None or not text or text.isspace()


def prepare_segment(table, tokenizer, config: WorkerConfig, skip_docids) -> Segment:
    """Drop empty texts and docids already in the table, then tokenize (side thread)."""
    import pyarrow as pa

    docs = table.column("doc").to_pylist()
    ids = table.column("docid").to_pylist()
    empty = [_is_empty(d) for d in docs]
    present = [bool(skip_docids) and i in skip_docids and not e for i, e in zip(ids, empty)]
    keep = [not (e or p) for e, p in zip(empty, present)]
    kept = table.filter(pa.array(keep)) if not all(keep) else table
    texts = [d for d, k in zip(docs, keep) if k]
    if config.has_token_num:
        tokens, full = prefix_token_ids(tokenizer, texts, config.max_length), None
    else:
        # Without token_num the budget needs every document's full count: the whole text
        # is tokenized (a cost proportional to document length, paid here, off the model).
        # (Hugging Face tokenizers fail on an empty batch: a segment whose documents were
        # all empty or already present has nothing to tokenize.)
        enc = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        tokens, full = [t[:config.max_length] for t in enc], [len(t) for t in enc]
    return Segment(kept, tokens, full, table.num_rows, sum(empty), sum(present))


class _Ready:
    """The result of an extractor without :meth:`submit` (test doubles): ready at once."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def top_k_rows(tokens: list[list[int]], backbone, extractor, config: WorkerConfig,
               device: str, on_rows=None) -> dict[str, np.ndarray]:
    """The NAG matrix ``(rows, L*K)`` per neuron type; rows with no token stay zero.

    Batches are built on the host and handed to the model with :meth:`submit`; each
    batch's result is read only after the next one is queued (one batch late), so on a
    GPU the host never waits for the device between batches. Documents that fill
    ``max_length`` get unpadded batches of their own (the dense attention path).
    ``on_rows(n)``, when given, is called after each batch read with the rows done so far.
    """
    from ...kernels.impact import left_pad

    L, K = extractor.num_layers, extractor.k
    lengths = [len(t) for t in tokens]
    feats = {t: empty_nags(len(tokens), L * K, config.index_types[t]) for t in config.neuron_types}
    submit = getattr(extractor, "submit", None) or (lambda ids, mask: _Ready(extractor.top_k(ids, mask)))
    backoff = WORKER_BACKOFF.setdefault(config.model_key(device) + config.extractor_key(), OomBackoff())

    def run(rows: list[int]):
        ids, mask = left_pad([tokens[i] for i in rows], backbone.pad_id)  # host tensors
        return submit(ids, mask)

    def padded(rows: list[int]) -> int:
        return len(rows) * max(lengths[i] for i in rows)

    done = [0]

    def write(part, pending):
        result = pending.result()
        for t in config.neuron_types:
            feats[t][part] = result[t].reshape(len(part), L * K)
        done[0] += len(part)
        if on_rows is not None:
            on_rows(done[0])

    late = None
    for rows in token_budget_batches(lengths, config.batch_tokens, dense_length=config.max_length):
        for part, pending in backoff.run(rows, run, size=padded):
            if late is not None:
                write(*late)
            late = (part, pending)
    if late is not None:
        write(*late)
    return feats


def features_table(segment: Segment, backbone, extractor, config: WorkerConfig, device: str,
                   on_rows=None):
    """The features rows of a segment's documents that have at least one token
    (``on_rows``: see :func:`top_k_rows`)."""
    import pyarrow as pa

    lengths = np.asarray([len(t) for t in segment.tokens], dtype=np.int32)
    feats = top_k_rows(segment.tokens, backbone, extractor, config, device, on_rows)
    valid = lengths > 0
    table = segment.table
    cols = {"docid": table.column("docid")}
    if config.has_dataset:
        cols["dataset"] = table.column("dataset")
    cols["token_num"] = (pa.array(segment.full_counts, pa.int64()) if segment.full_counts is not None
                         else table.column("token_num").cast(pa.int64()))
    cols["n_tokens"] = pa.array(lengths, pa.int32())
    for t in config.neuron_types:
        cols[t] = encode_nags(feats[t], np.ones(len(lengths), bool), config.index_types[t])
    for c in config.carry:
        cols[c] = table.column(c)
    out = pa.table(cols)
    if config.output_schema is not None:
        out = out.cast(config.output_schema)
    return out.filter(pa.array(valid)) if not valid.all() else out


#: Documents per tokenizer call at least. Measured on 2 cores (bench/extract_scale.py's
#: model, 12k documents): segments of ~136 documents (4 batches of 4096 tokens) cost 590-750
#: us of CPU per document, segments of 2048 cost 510: fewer tokenizer calls, and
#: length-sorted batches over more documents pad less (the model's share fell by a third).
SEGMENT_DOCS = 2048
#: Seconds between two heartbeats of an attempt (each is a small file rename).
HEARTBEAT_SECONDS = 1.0


def segment_rows(config: WorkerConfig) -> int:
    """Documents per pipeline segment (one tokenizer call, then the model's batches):
    :data:`SEGMENT_DOCS`, or four model batches' worth when that is more.

    >>> from nag_spark.spark.extract.worker_config import WorkerConfig
    >>> segment_rows(WorkerConfig("m", "hf_dir", "/m", "float32", "cpu", ("fwd_up",), 20, 120, 4096))
    2048
    """
    return max(SEGMENT_DOCS, 4 * config.batch_tokens // max(1, config.max_length))


def overlaps(config: WorkerConfig, device: str) -> bool:
    """Whether the next segment is tokenized on a side thread while the model runs.

    Yes on a GPU (the model runs on the device while the host tokenizes) and for CPU tasks
    of several cores. A CPU task of one core runs both stages on that core anyway: on 2
    loaded cores (bench/extract_scale.py's model, 3 alternating pairs of 12k-document
    units) the side thread cost 6-9% more CPU per document and 9-18% more wall time than
    tokenizing each segment just before the model runs it.
    """
    return device != "cpu" or int(config.threads) > 1


def segments(table, tokenizer, config: WorkerConfig, skip_docids, overlap: bool):
    """The unit's rows as prepared segments of :func:`segment_rows` rows, in order; with
    ``overlap`` the next one is prepared on a side thread while the caller uses this one."""
    step = segment_rows(config)
    starts = list(range(0, table.num_rows, step))
    if not overlap:
        for first in starts:
            yield prepare_segment(table.slice(first, step), tokenizer, config, skip_docids)
        return
    with ThreadPoolExecutor(1) as side:
        future = None
        for i, first in enumerate(starts):
            if future is None:
                future = side.submit(prepare_segment, table.slice(first, step), tokenizer,
                                     config, skip_docids)
            segment = future.result()
            future = (side.submit(prepare_segment, table.slice(starts[i + 1], step), tokenizer,
                                  config, skip_docids) if i + 1 < len(starts) else None)
            yield segment


class _Heartbeat:
    """Writes an attempt's live counts after model batches, at most every
    :data:`HEARTBEAT_SECONDS` (a segment's rows are counted in proportion to the documents
    the model has done)."""

    def __init__(self, job, tally):
        self.job, self.tally, self.last = job, tally, 0.0

    def rows(self, segment: Segment):
        kept = max(1, len(segment.tokens))

        def on_rows(done: int) -> None:
            now = time.time()
            if now - self.last >= HEARTBEAT_SECONDS:
                self.last = now
                self.job.heartbeat(self.tally, extra_rows=segment.rows_in * done // kept)
        return on_rows

    def segment_done(self) -> None:
        self.last = time.time()
        self.job.heartbeat(self.tally)


def extract_unit(unit: WorkUnit, done_rows: int, config: WorkerConfig, job: "job_files.JobFiles",
                 skip_docids=frozenset()) -> dict:
    """Run one unit from row ``done_rows`` on; returns the done marker it also writes."""
    started = time.time()
    device = resolve_device(config.device, planned=config.device_kind or None)
    verify_on_worker(config.dtype, device, config.device_kind or None)
    bind_device(device)  # before any load: the CUDA context and allocations land there
    set_threads(config.threads, device)
    if device == "cpu":
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the task owns its cores
    else:
        # The tokenizer's thread pool gets the task's cores, not every core of the node.
        os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, int(config.threads))))
    loads = WORKER_MODELS.loads
    backbone, extractor = WORKER_MODELS.get(config, device)
    load_s = time.time() - started if WORKER_MODELS.loads > loads else 0.0
    job_files.pause_for_tests("loaded")
    table, bad_utf8 = read_unit(unit, config.columns, done_rows)
    attempt = job_files.attempt_id()
    # Complete unless --limit cut the unit short (a later run without it does the rest).
    complete = unit.limit is None or (unit.rows is not None and unit.limit >= unit.rows)
    tally = job_files.UnitTally(unit.unit_id, unit.app_id, done_rows, attempt, complete)
    tally.bad_utf8 = bad_utf8
    beat = _Heartbeat(job, tally)
    with job.data_writer(unit, attempt) as writer:
        for segment in segments(table, backbone.tokenizer, config, skip_docids,
                                overlap=overlaps(config, device)):
            out = features_table(segment, backbone, extractor, config, device, beat.rows(segment))
            writer.write(out)
            tally.add(segment, out)
            beat.segment_done()
            job_files.pause_for_tests("segment")
            job_files.fail_once_for_tests(job)
        tally.file = writer.finish()
    tally.started, tally.ended, tally.load_seconds = started, time.time(), load_s
    marker = tally.as_marker()
    job.mark_done(marker)
    log.debug("unit %s: %d docs, %d tokens in %.1fs on %s", unit.unit_id, tally.docs,
              tally.tokens, tally.ended - started, device)
    return marker
