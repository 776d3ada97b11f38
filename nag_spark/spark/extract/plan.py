"""Validating and resolving :class:`.ExtractOptions` into an :class:`ExtractPlan`.

Everything an extraction decides before touching data is decided here, on the driver, and
nothing in the options is changed: the resolved K, max_length, batch and chunk sizes, the
device setting, the dtype, the neuron types, the model and the features table's lineage.
Bad options stop the run here with an :class:`~nag_spark.errors.InputError` or
:class:`~nag_spark.errors.ConfigError`, before any model is loaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ...config import nag_setting
from ...errors import InputError
from ...kernels.neuron_types import parse_neuron_types
from ...models import MODEL_ALIASES, ModelSpec, describe_model, model_cache_dir, resolve_model_spec
from ...models.calibrate import choose_dtype
from ...models.device import planned_device_kind
from .gpu_stage import gpu_batch_tokens, local_cpus_per_gpu, stage_gpus
from ...tables.features import FEATURE_COLUMNS, KIND, KIND_KEY, FeaturesLineage
from ...tables.nag_codec import index_type
from .options import DEFAULT_BATCH_TOKENS, DEFAULT_CHUNK_DOCS, ExtractOptions
from .worker_config import WorkerConfig


def positive(name: str, value) -> int:
    """``value`` as a positive int, or an InputError naming the option.

    >>> positive("--top-k", "20")
    20
    >>> positive("--top-k", 0)
    Traceback (most recent call last):
    ...
    nag_spark.errors.InputError: --top-k must be a positive integer, got 0
    """
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return number


def model_label(spec: ModelSpec) -> str:
    """The model name recorded in the table's lineage.

    Aliases and hub ids as given; files and folders by name, since their absolute paths
    differ between machines (the digest identifies the weights).

    >>> model_label(ModelSpec("./models/m.gguf", "gguf", "/data/models/m.gguf"))
    'm.gguf'
    """
    if spec.kind == "hub" or spec.name in MODEL_ALIASES:
        return spec.name
    return os.path.basename(spec.location.rstrip("/"))


@dataclass(frozen=True)
class ExtractPlan:
    """An extraction with every option validated and resolved (see the module doc).

    Attributes
    ----------
    options : ExtractOptions
        What the user asked for, unchanged.
    output : str
        The features table path.
    spec : ModelSpec
    neuron_types : tuple of str
    top_k, max_length, batch_tokens, chunk_docs : int
    device : str
        The device setting (``auto`` unless the options or conf say otherwise); each task
        resolves it to its own device.
    dtype : {"float32", "bfloat16"}
        Resolved for where the workers will run (``device_kind``, checked by each worker).
    lineage : FeaturesLineage
        The output table's lineage.
    carry : tuple of str
        Input columns asked for along the features.
    threads : int
        Torch CPU threads per task.
    cache_dir : str
    load_log : str, optional
    """

    options: ExtractOptions
    output: str
    spec: ModelSpec
    neuron_types: tuple[str, ...]
    top_k: int
    max_length: int
    batch_tokens: int
    chunk_docs: int
    device: str
    dtype: str
    lineage: FeaturesLineage
    carry: tuple[str, ...] = ()
    threads: int = 1
    cache_dir: str = ""
    load_log: str | None = None
    index_types: Mapping[str, str] = field(default_factory=dict)
    dtype_reason: str = ""
    device_kind: str = ""
    fusion: str = "off"

    @property
    def table_properties(self) -> dict[str, str]:
        """All properties of a new features table (library version included)."""
        return self.lineage.to_properties()

    @property
    def append_properties(self) -> dict[str, str]:
        """What an existing table must agree with: the kind and the lineage identity.

        The library version is recorded but does not decide compatibility: a patch release
        may resume a table started by the previous one.
        """
        return {KIND_KEY: KIND, **self.lineage.identity_properties()}

    def worker_config(self, input_columns: Sequence[str], output_schema=None,
                      raw_schema=None) -> WorkerConfig:
        """The settings shipped to the workers, for an input with ``input_columns``
        (``raw_schema``: the input's Spark schema, needed to parse JSONL)."""
        return WorkerConfig(
            model_name=self.spec.name, model_kind=self.spec.kind,
            model_location=self.spec.location, dtype=self.dtype, device=self.device,
            neuron_types=self.neuron_types, top_k=self.top_k, max_length=self.max_length,
            batch_tokens=self.batch_tokens, index_types=dict(self.index_types),
            has_token_num="token_num" in input_columns, has_dataset="dataset" in input_columns,
            carry=tuple(c for c in self.carry if c not in FEATURE_COLUMNS),
            threads=self.threads, cache_dir=self.cache_dir, load_log=self.load_log,
            fmt=self.options.format, json_schema=_arrow_schema(raw_schema),
            output_schema=output_schema, device_kind=self.device_kind, fusion=self.fusion)


def _arrow_schema(spark_schema):
    if spark_schema is None:
        return None
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spark_schema, timezone="UTC")


def _given_or_setting(value, conf: Mapping[str, str] | None, key: str, default: int):
    # A given value is validated as it is (0 is refused, not replaced); only an absent one
    # (None) takes the conf's value, then the default.
    return value if value is not None else nag_setting(conf, key, str(default))


def _sizes(opts: ExtractOptions, conf: Mapping[str, str] | None) -> tuple[int, int, int, int]:
    return (positive("--top-k", opts.top_k), positive("--max-length", opts.max_length),
            positive("--batch-tokens", _given_or_setting(
                opts.batch_tokens, conf, "extract.batch_tokens", DEFAULT_BATCH_TOKENS)),
            positive("--chunk-docs", _given_or_setting(
                opts.chunk_docs, conf, "extract.chunk_docs", DEFAULT_CHUNK_DOCS)))


def check_output(opts: ExtractOptions) -> None:
    """The output location, before any model or data is touched: a features table (or a
    place to create one) that this job may write and that is not its input; and, when the
    run is tracked, an MLflow store it may write."""
    from ...delta.output_check import check_table_output
    from ...tracking.runs import check_tracking_store

    check_table_output(opts.output, inputs=[("--input", opts.input)], kind=KIND,
                       kind_key=KIND_KEY)
    if opts.track:
        check_tracking_store()


def _lineage(spec: ModelSpec, info: dict, types: tuple[str, ...], top_k: int,
             max_length: int, dtype: str) -> FeaturesLineage:
    return FeaturesLineage(
        model=model_label(spec), model_digest=info["digest"], architecture=info["architecture"],
        num_layers=int(info["num_layers"]), top_k=top_k, max_length=max_length, dtype=dtype,
        neuron_types=types, n_neurons={t: int(info["n_neurons"][t]) for t in types})


def plan_extraction(opts: ExtractOptions, conf: Mapping[str, str] | None = None, *,
                    local_master: bool = True) -> ExtractPlan:
    """Validate ``opts`` and resolve everything an extraction needs before reading data.

    Parameters
    ----------
    opts : ExtractOptions
    conf : mapping, optional
        The Spark conf (``spark.nag.extract.*``, ``spark.task.cpus``,
        ``spark.task.resource.gpu.amount``, ``spark.nag.model.cache_dir``).
    local_master : bool
        Whether Spark runs in local mode (then the driver's CUDA is the workers').

    Raises
    ------
    TableError
        An output that is a file, a foreign folder or table, the input, or not writable.
    InputError, ConfigError
        A bad option, an unknown model or neuron type, K above a type's neuron count.

    Examples
    --------
    >>> plan = plan_extraction(ExtractOptions("docs.parquet", "features/pool"))  # doctest: +SKIP
    >>> plan.batch_tokens, plan.lineage.num_layers                                # doctest: +SKIP
    (4096, 30)
    """
    conf = conf or {}
    check_output(opts)
    types = parse_neuron_types(opts.neuron_types)
    top_k, max_length, batch_tokens, chunk_docs = _sizes(opts, conf)
    if opts.limit is not None:
        positive("--limit", opts.limit)
    device = opts.device or nag_setting(conf, "extract.device", "auto") or "auto"
    spec = resolve_model_spec(opts.model)
    cache_dir = model_cache_dir(conf)
    info = describe_model(spec, cache_dir)
    for t in types:
        if top_k > info["n_neurons"][t]:
            raise InputError(f"--top-k {top_k} exceeds the {info['n_neurons'][t]} {t} neurons")
    gpus_per_task = float(conf.get("spark.task.resource.gpu.amount", "0") or 0)
    kind = planned_device_kind(device, max(gpus_per_task, stage_gpus(conf)), local_master)
    dtype, dtype_reason = _existing_dtype(opts) or choose_dtype(opts.dtype, kind, spec, cache_dir, conf)
    task_cpus = int(conf.get("spark.task.cpus", "1") or 1)
    if kind == "cuda":
        # GPU workers: their own batch size (a CPU profile's small batches would starve a
        # GPU) and, with a stage-level profile, the cores each extraction task is given.
        batch_tokens = gpu_batch_tokens(opts.batch_tokens, conf, batch_tokens)
        task_cpus = int(nag_setting(conf, "extract.stage_cpus")
                        or (local_cpus_per_gpu() if local_master else task_cpus))
    return ExtractPlan(
        options=opts, output=os.fspath(opts.output), spec=spec, neuron_types=types,
        top_k=top_k, max_length=max_length, batch_tokens=batch_tokens, chunk_docs=chunk_docs,
        device=device, dtype=dtype,
        lineage=_lineage(spec, info, types, top_k, max_length, dtype),
        carry=tuple(opts.carry), threads=int(nag_setting(conf, "extract.threads") or task_cpus),
        cache_dir=str(cache_dir), load_log=nag_setting(conf, "extract.load_log"),
        index_types=dict({t: index_type(info["n_neurons"][t]) for t in types},
                         **_existing_index_types(opts, types)),
        dtype_reason=dtype_reason, device_kind=kind,
        fusion=_fusion(conf))


def _fusion(conf: Mapping[str, str] | None) -> str:
    """The fusion setting, validated; the default ``off`` without importing
    :mod:`nag_spark.kernels.fusion` (it imports torch: seconds of every driver's start).

    >>> _fusion({}), _fusion({"spark.nag.extract.fusion": " OFF "})
    ('off', 'off')
    """
    value = nag_setting(conf, "extract.fusion", "off")
    if (value or "off").strip().lower() == "off":
        return "off"
    from ...kernels.fusion import check_fusion

    return check_fusion(value)


def _existing_index_types(opts: ExtractOptions, types) -> dict[str, str]:
    """An existing table's NAG storage (``array`` columns of earlier releases): a resumed
    extraction appends rows of the same kind."""
    from ...delta.deltars_writer import arrow_schema, open_table
    from ...delta.location import Location
    from ...tables.nag_codec import table_index_types

    try:
        table = open_table(Location.parse(os.fspath(opts.output)))
    except Exception:  # noqa: BLE001 - not a readable table: the output check says why
        return {}
    return {} if table is None else table_index_types(arrow_schema(table), types)


def _existing_dtype(opts: ExtractOptions):
    """``auto`` resuming a features table keeps the table's dtype: a new calibration must
    not refuse the re-run for another lineage."""
    if opts.dtype != "auto":
        return None
    from ...delta.deltars_writer import open_table
    from ...delta.location import Location

    try:
        table = open_table(Location.parse(os.fspath(opts.output)))
    except Exception:  # noqa: BLE001 - not a readable table: the output check says why
        return None
    if table is None:
        return None
    dtype = FeaturesLineage.from_properties(table.metadata().configuration, opts.output).dtype
    return (dtype, f"auto resuming {opts.output}: its dtype {dtype}") if dtype else None
