"""What every Spark task of an extraction needs to know, shipped from the driver.

The driver builds one :class:`WorkerConfig` per run; ``mapInArrow`` pickles it into each
task's closure. It therefore holds only plain values (strings, ints, tuples, a dict of
strings), never a Spark, torch or model object.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class WorkerConfig:
    """The settings of one extraction as the workers see them.

    Attributes
    ----------
    model_name, model_kind, model_location : str
        The resolved :class:`~nag_spark.models.spec.ModelSpec` (name as given, ``gguf`` /
        ``hf_dir`` / ``hub``, path or hub id).
    dtype : {"float32", "bfloat16"}
        Resolved on the driver.
    device : str
        The device setting (``auto``, ``cpu``, ``cuda``, ``cuda:N``), resolved per task.
    neuron_types : tuple of str
    top_k, max_length, batch_tokens : int
    index_types : dict
        ``"short"`` or ``"int"`` per neuron type (the NAG array element type).
    has_token_num, has_dataset : bool
        Whether the input has these columns (else ``token_num`` is counted by the worker).
    carry : tuple of str
        Extra input columns copied into the output as they are.
    threads : int
        Torch CPU threads per task (``spark.task.cpus`` unless set).
    cache_dir : str
        The node's model cache folder (GGUF conversions).
    load_log : str, optional
        A file where every model load appends one line (tests count loads per worker).
    fmt : {"web", "final"}
        The input layout.
    json_schema : pyarrow.Schema, optional
        A JSONL input's schema as Spark inferred it (every unit parses with it).
    output_schema : pyarrow.Schema, optional
        The features table's schema: every data file is written with exactly it.
    device_kind : {"cpu", "cuda", ""}
        Where the driver planned the workers (and chose ``dtype`` for); each worker checks
        its own device against it. ``""``: no plan, no check.
    fusion : {"off", "compile", "liger"}
        Elementwise fusion on GPUs (:mod:`nag_spark.kernels.fusion`).

    Examples
    --------
    >>> import pickle
    >>> cfg = WorkerConfig("m", "hf_dir", "/models/m", "float32", "auto", ("fwd_up",), 20,
    ...                    120, 4096, {"fwd_up": "short"})
    >>> pickle.loads(pickle.dumps(cfg)) == cfg
    True
    >>> cfg.model_key("cpu")
    ('hf_dir', '/models/m', 'float32', 'cpu')
    """

    model_name: str
    model_kind: str
    model_location: str
    dtype: str
    device: str
    neuron_types: tuple[str, ...]
    top_k: int
    max_length: int
    batch_tokens: int
    index_types: Mapping[str, str] = field(default_factory=dict)
    has_token_num: bool = False
    has_dataset: bool = False
    carry: tuple[str, ...] = ()
    threads: int = 1
    cache_dir: str = ""
    load_log: str | None = None
    fmt: str = "web"
    json_schema: object = None
    output_schema: object = None
    device_kind: str = ""
    fusion: str = "off"

    @property
    def columns(self):
        """What :func:`~.unit_reader.read_unit` returns for this input."""
        from .unit_reader import UnitColumns

        return UnitColumns(self.fmt, self.has_dataset, self.has_token_num, tuple(self.carry),
                           self.json_schema)

    def model_key(self, device: str) -> tuple:
        """Which loaded model this config needs on ``device`` (weights, dtype, device)."""
        return (self.model_kind, self.model_location, self.dtype, device)

    def extractor_key(self) -> tuple:
        """Which hooks this config needs on that model (neuron types, K)."""
        return (tuple(self.neuron_types), int(self.top_k))
