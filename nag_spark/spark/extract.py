"""Distributed NAG extraction: documents in, a features Delta table out.

:func:`run_extraction` is the one entry point that ``jobs/extract.py``, the demo and the
Databricks notebooks call. What it does, in order:

1. resolve the model and read its lineage facts (L, N per type, weights digest) on the
   driver; no weights are loaded there;
2. refuse early (before any model work) when the output table exists with other lineage
   properties;
3. read and validate the input (:mod:`nag_spark.spark.inputs`);
4. keep only docids not yet in the output (resume), split them into chunks and, per chunk,
   run the model in ``mapInArrow`` (:mod:`nag_spark.spark.extract_worker`) and commit the
   chunk with ``insert_if_absent``: a run killed midway keeps every committed chunk and a
   re-run completes the table with no duplicate;
5. log progress lines (documents done, docs/s, ETA) and an MLflow run of kind ``extract``.

Settings read from the Spark conf (``spark.nag.*``, profile or ``--conf``; env
``NAG_EXTRACT_...`` wins): ``extract.device`` (auto|cpu|cuda), ``extract.batch_tokens``,
``extract.chunk_docs``, ``extract.threads`` (default ``spark.task.cpus``),
``model.cache_dir``, ``extract.load_log`` (a file where each model load appends a line).
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

from .. import __version__
from ..config import nag_setting
from ..errors import InputError
from ..kernels.neuron_types import parse_neuron_types
from ..logs import get_logger
from ..models import DEFAULT_MODEL, MODEL_ALIASES, describe_model, model_cache_dir, resolve_dtype, resolve_model_spec
from .inputs import read_documents

log = get_logger(__name__)

DEFAULT_BATCH_TOKENS = 4096
DEFAULT_CHUNK_DOCS = 20000
# Rows per Spark task: large enough that length sorting inside it pays, small enough to
# spread a chunk over all task slots.
_ROWS_PER_TASK = 2048


@dataclass
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
    """What a run did. ``version`` is the table version after the run (None: no table)."""

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

    @property
    def docs_per_s(self) -> float:
        return self.docs_processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def _positive(name: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return number


def _run_device_kind(spark, setting: str) -> str:
    """``cuda`` or ``cpu``: where the workers will run, to resolve ``dtype=auto`` on the driver."""
    if setting.startswith("cuda"):
        return "cuda"
    if setting == "cpu":
        return "cpu"
    conf = spark.sparkContext.getConf()
    if float(conf.get("spark.task.resource.gpu.amount", "0") or 0) > 0:
        return "cuda"
    if spark.sparkContext.master.startswith("local"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cpu"


def features_properties(model_name: str, info: dict, types: Sequence[str], top_k: int,
                        max_length: int, dtype: str) -> dict[str, str]:
    """The features table's lineage properties (docs/CONTRACT.md)."""
    props = {
        "nag.kind": "features",
        "nag.model": model_name,
        "nag.model_digest": info["digest"],
        "nag.architecture": info["architecture"],
        "nag.num_layers": str(info["num_layers"]),
        "nag.top_k": str(top_k),
        "nag.max_length": str(max_length),
        "nag.dtype": dtype,
        "nag.neuron_types": ",".join(types),
    }
    for t in types:
        props[f"nag.n_neurons.{t}"] = str(info["n_neurons"][t])
    props["nag.version"] = __version__
    return props


def _lineage_keys(props: dict[str, str]) -> dict[str, str]:
    # The library version is recorded but does not decide compatibility: a patch release
    # may resume a table started by the previous one.
    return {k: v for k, v in props.items() if k != "nag.version"}


def _model_label(spec) -> str:
    # Aliases and hub ids as given; files and folders by name, since their absolute paths
    # differ between machines (the digest identifies the weights).
    if spec.kind == "hub" or spec.name in MODEL_ALIASES:
        return spec.name
    return os.path.basename(spec.location.rstrip("/"))


def _output_schema(has_dataset: bool, types: Sequence[str], index_types: dict, carry_fields):
    from pyspark.sql import types as T

    fields = [T.StructField("docid", T.StringType())]
    if has_dataset:
        fields.append(T.StructField("dataset", T.StringType()))
    fields += [T.StructField("token_num", T.LongType()), T.StructField("n_tokens", T.IntegerType())]
    for t in types:
        elem = T.ShortType() if index_types[t] == "short" else T.IntegerType()
        fields.append(T.StructField(t, T.ArrayType(elem)))
    fields += list(carry_fields)
    return T.StructType(fields)


class _Progress:
    """Logs documents done, docs/s and ETA every ``interval`` seconds from a side thread."""

    def __init__(self, total: int, accumulator, interval: float):
        self.total, self.acc, self.interval = total, accumulator, interval
        self.start = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def done(self) -> int:
        return int(self.acc.value)

    def line(self) -> str:
        done = min(self.done(), self.total)
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        eta_text = f"{eta:.0f}s" if math.isfinite(eta) else "unknown"
        pct = 100.0 * done / self.total if self.total else 100.0
        return f"extract progress: {done}/{self.total} docs ({pct:.1f}%), {rate:.2f} docs/s, ETA {eta_text}"

    def _loop(self):
        while not self._stop.wait(self.interval):
            log.info(self.line())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()


def _worker_config(opts, spec, types, dtype, device, index_types, docs, conf, spark) -> dict:
    task_cpus = int(spark.sparkContext.getConf().get("spark.task.cpus", "1") or 1)
    return {
        "model_name": spec.name, "model_kind": spec.kind, "model_location": spec.location,
        "dtype": dtype, "device": device, "neuron_types": list(types),
        "top_k": opts.top_k, "max_length": opts.max_length,
        "batch_tokens": opts.batch_tokens, "index_types": index_types,
        "has_token_num": "token_num" in docs.columns, "has_dataset": "dataset" in docs.columns,
        "carry": [c for c in opts.carry if c not in ("docid", "doc", "dataset", "token_num", "n_tokens")],
        "threads": int(nag_setting(conf, "extract.threads") or task_cpus),
        "cache_dir": str(model_cache_dir(conf)),
        "load_log": nag_setting(conf, "extract.load_log"),
    }


def run_extraction(spark, opts: ExtractOptions) -> ExtractResult:
    """Extract NAG features of ``opts.input`` into the Delta table ``opts.output``.

    Parameters
    ----------
    spark : SparkSession
    opts : ExtractOptions

    Returns
    -------
    ExtractResult

    Raises
    ------
    InputError, ConfigError, LineageMismatchError
        Bad options or input, unknown model, or an output table of another lineage;
        raised before any model work, so nothing in the table is touched.

    Examples
    --------
    >>> res = run_extraction(spark, ExtractOptions(input="docs.parquet", output="/tmp/feats"))  # doctest: +SKIP
    >>> res.docs_processed, res.version                                                         # doctest: +SKIP
    (1000, 0)
    """
    from pyspark.sql import functions as F

    from ..delta import insert_if_absent, read_snapshot, table_exists
    from ..delta.lineage import check_lineage
    from .extract_worker import extract_batches

    conf = dict(spark.sparkContext.getConf().getAll())
    types = parse_neuron_types(opts.neuron_types)
    opts.top_k = _positive("--top-k", opts.top_k)
    opts.max_length = _positive("--max-length", opts.max_length)
    opts.batch_tokens = _positive("--batch-tokens", opts.batch_tokens or nag_setting(
        conf, "extract.batch_tokens", str(DEFAULT_BATCH_TOKENS)))
    chunk_docs = _positive("--chunk-docs", opts.chunk_docs or nag_setting(
        conf, "extract.chunk_docs", str(DEFAULT_CHUNK_DOCS)))
    device = opts.device or nag_setting(conf, "extract.device", "auto") or "auto"
    output = os.fspath(opts.output)

    spec = resolve_model_spec(opts.model)
    info = describe_model(spec, model_cache_dir(conf))
    for t in types:
        if opts.top_k > info["n_neurons"][t]:
            raise InputError(f"--top-k {opts.top_k} exceeds the {info['n_neurons'][t]} {t} neurons")
    dtype = resolve_dtype(opts.dtype, _run_device_kind(spark, device))
    props = features_properties(_model_label(spec), info, types, opts.top_k, opts.max_length, dtype)
    # One snapshot of an existing output: its lineage is checked, its docids are skipped,
    # and its version is the result's if nothing new is inserted.
    existing = read_snapshot(spark, output) if table_exists(output, spark) else None
    if existing is not None:
        check_lineage(existing.properties, _lineage_keys(props), output)

    docs = read_documents(spark, opts.input, opts.format, limit=opts.limit, carry=opts.carry)
    todo = docs.df
    if existing is not None:
        todo = todo.join(existing.df.select("docid"), on="docid", how="left_anti")
    todo = todo.persist()
    n_todo = todo.count() if existing is not None else docs.rows
    already = docs.rows - n_todo
    if already:
        log.info("resume: %d of %d documents already in %s; %d to do", already, docs.rows, output, n_todo)

    index_types = {t: ("short" if info["n_neurons"][t] <= 32767 else "int") for t in types}
    cfg = _worker_config(opts, spec, types, dtype, device, index_types, docs, conf, spark)
    carry_fields = [f for f in todo.schema.fields if f.name in cfg["carry"]]
    schema = _output_schema(cfg["has_dataset"], types, index_types, carry_fields)
    parallelism = spark.sparkContext.defaultParallelism
    n_chunks = math.ceil(n_todo / chunk_docs)  # 0 when everything is already there

    import contextlib

    from ..tracking.runs import log_delta_table, start_run

    tracker = start_run("extract", opts.experiment, opts.run_name,
                        tags={"nag.output_path": output}) if opts.track else contextlib.nullcontext()
    with tracker as run:
        run_id = run.info.run_id if run is not None else None
        if run is not None:
            import mlflow

            mlflow.log_params({
                "input": docs.path, "input_kind": docs.kind, "format": opts.format,
                "output": output, "model": props["nag.model"], "model_digest": info["digest"],
                "neuron_types": ",".join(types), "top_k": opts.top_k,
                "max_length": opts.max_length, "dtype": dtype, "device": device,
                "batch_tokens": opts.batch_tokens, "chunk_docs": chunk_docs, "limit": opts.limit,
            })
            if docs.kind == "delta":
                log_delta_table(docs.path, docs.version, "input")
            else:
                mlflow.set_tag("nag.input_path", docs.path)
        acc = spark.sparkContext.accumulator(0)
        processed = tokens = no_tokens = 0
        version = existing.version if existing is not None else None
        start = time.perf_counter()
        with _Progress(n_todo, acc, opts.progress_seconds) as progress:
            for chunk in range(n_chunks):
                part = todo if n_chunks == 1 else todo.filter(
                    F.pmod(F.xxhash64("docid"), F.lit(n_chunks)) == chunk)
                parts = max(parallelism, math.ceil(n_todo / n_chunks / _ROWS_PER_TASK))
                parts = parallelism * math.ceil(parts / parallelism)
                feats = part.repartition(parts).mapInArrow(
                    lambda it, _cfg=cfg, _acc=acc: extract_batches(it, _cfg, _acc), schema
                ).persist()
                stats = feats.agg(F.count(F.lit(1)).alias("n"),
                                  F.sum("n_tokens").alias("tokens"),
                                  F.sum((F.col("n_tokens") == 0).cast("long")).alias("empty")).collect()[0]
                good = feats.filter(F.col("n_tokens") > 0)
                new_version, inserted = insert_if_absent(
                    good, output, key="docid",
                    properties=props if version is None else _lineage_keys(props),
                    commit_info={"job": "extract", "mlflow_run_id": run_id or "",
                                 "chunk": f"{chunk + 1}/{n_chunks}"})
                feats.unpersist()
                if new_version is not None:
                    version = new_version
                processed += int(stats["n"] or 0) - int(stats["empty"] or 0)
                tokens += int(stats["tokens"] or 0)
                no_tokens += int(stats["empty"] or 0)
                log.info("chunk %d/%d committed: %d rows inserted (table version %s); %s",
                         chunk + 1, n_chunks, inserted, version, progress.line())
        seconds = time.perf_counter() - start
        todo.unpersist()
        if no_tokens:
            log.warning("skipped %d documents with no token after tokenization (no NAG)", no_tokens)
        result = ExtractResult(output=output, version=version, docs_processed=processed,
                               tokens=tokens, seconds=seconds, docs_already_present=already,
                               docs_skipped_empty=docs.skipped_empty,
                               docs_skipped_no_tokens=no_tokens, run_id=run_id, properties=props)
        log.info("extracted %d documents (%d tokens) in %.1fs: %.2f docs/s, %.0f tokens/s -> %s v%s",
                 processed, tokens, seconds, result.docs_per_s, result.tokens_per_s, output, version)
        if run is not None:
            import mlflow

            mlflow.log_metrics({
                "docs_processed": processed, "docs_already_present": already,
                "docs_skipped_empty": docs.skipped_empty, "docs_skipped_no_tokens": no_tokens,
                "tokens": tokens, "seconds": seconds, "docs_per_s": result.docs_per_s,
                "tokens_per_s": result.tokens_per_s,
            })
            if version is not None:
                log_delta_table(output, version, "output")
    return result
