"""The features table contract: its lineage properties and its schema.

A features table holds ``docid``, ``dataset`` (when the input has it), ``token_num``,
``n_tokens`` and one column per neuron type: the document's L×K neuron indices,
layer-major, bit-packed into one ``binary`` value per row (``ceil(log2 N)`` bits per
index; :mod:`nag_spark.kernels.packing` gives the layout). Earlier tables hold
``array<short>`` (N ≤ 32767) or ``array<int>``; they are read the same way. Its table
properties say which model and settings made the NAGs; two tables can be scored against
each other only when these agree. How the NAG columns are encoded and decoded is
:mod:`.nag_codec`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from .. import __version__
from ..errors import LineageMismatchError, TableError
from .nag_codec import packed_bits

PREFIX = "nag."
KIND_KEY = "nag.kind"
KIND = "features"

# How many rows of a parquet row group form one extraction work unit: fixed when the table
# is created, so every later run on the same input names its units the same way.
UNIT_ROWS_KEY = "nag.extract.unit_rows"

# Columns extraction itself writes; an input column of these names is never carried over.
FEATURE_COLUMNS = ("docid", "doc", "dataset", "token_num", "n_tokens")

# Property key of each lineage field.
_KEYS = {
    "model": "nag.model", "model_digest": "nag.model_digest",
    "architecture": "nag.architecture", "num_layers": "nag.num_layers",
    "top_k": "nag.top_k", "max_length": "nag.max_length", "dtype": "nag.dtype",
    "neuron_types": "nag.neuron_types",
}
_INT_FIELDS = ("num_layers", "top_k", "max_length")
_N_NEURONS = "nag.n_neurons."
_VERSION_KEY = "nag.version"
# The keys two tables must share to be scored against each other (plus the neuron count
# of the scored type). The library version is recorded but decides nothing: a patch release
# may resume or rank a table written by the previous one.
_COMPATIBLE_FIELDS = ("model", "model_digest", "architecture", "num_layers", "top_k",
                      "max_length", "dtype")


def n_neurons_key(neuron_type: str) -> str:
    """The property holding the neuron count N of ``neuron_type``."""
    return _N_NEURONS + neuron_type


def property_key(name: str) -> str:
    """The table property holding lineage field ``name`` (for messages that name it).

    >>> property_key("num_layers")
    'nag.num_layers'
    """
    return _KEYS[name]


@dataclass(frozen=True)
class FeaturesLineage:
    """Which model and settings produced a features table's NAGs.

    Read from a table with :meth:`from_properties` (fields the table lacks are ``None``:
    :meth:`require` says so by name) and written with :meth:`to_properties`.

    Examples
    --------
    >>> lin = FeaturesLineage(model="m", model_digest="d", architecture="LlamaForCausalLM",
    ...                       num_layers=2, top_k=3, max_length=120, dtype="float32",
    ...                       neuron_types=("fwd_up",), n_neurons={"fwd_up": 64})
    >>> props = lin.to_properties()
    >>> props["nag.n_neurons.fwd_up"], props["nag.kind"]
    ('64', 'features')
    >>> FeaturesLineage.from_properties(props, "t").width
    6
    """

    model: str | None = None
    model_digest: str | None = None
    architecture: str | None = None
    num_layers: int | None = None
    top_k: int | None = None
    max_length: int | None = None
    dtype: str | None = None
    neuron_types: tuple[str, ...] | None = None
    n_neurons: Mapping[str, int] = field(default_factory=dict)
    library_version: str | None = None
    table: str = ""

    # ------------------------------------------------------------ properties

    @classmethod
    def from_properties(cls, props: Mapping[str, str], table: str = "") -> "FeaturesLineage":
        """The lineage recorded in a table's properties (absent keys read as ``None``)."""
        values: dict = {}
        for name, key in _KEYS.items():
            raw = props.get(key)
            if raw is None:
                continue
            if name in _INT_FIELDS:
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise TableError(f"features table {table}: property {key!r} is {raw!r}, "
                                     "not an integer") from None
            elif name == "neuron_types":
                values[name] = tuple(t for t in raw.split(",") if t)
            else:
                values[name] = raw
        neurons = {}
        for key, raw in props.items():
            if key.startswith(_N_NEURONS):
                try:
                    neurons[key[len(_N_NEURONS):]] = int(raw)
                except ValueError:
                    raise TableError(f"features table {table}: property {key!r} is {raw!r}, "
                                     "not an integer") from None
        return cls(**values, n_neurons=neurons, library_version=props.get(_VERSION_KEY),
                   table=str(table))

    def to_properties(self) -> dict[str, str]:
        """All table properties of a features table with this lineage (``nag.kind`` too)."""
        props = {KIND_KEY: KIND}
        props.update(self.identity_properties())
        props[_VERSION_KEY] = self.library_version or __version__
        return props

    def identity_properties(self) -> dict[str, str]:
        """The properties that decide compatibility: every key but the library version.

        An append to an existing table must agree with the table on all of these.
        """
        props: dict[str, str] = {}
        for name, key in _KEYS.items():
            value = getattr(self, name)
            if value is None:
                continue
            props[key] = ",".join(value) if name == "neuron_types" else str(value)
        for t in (self.neuron_types or tuple(self.n_neurons)):
            if t in self.n_neurons:
                props[n_neurons_key(t)] = str(self.n_neurons[t])
        return props

    # ------------------------------------------------------------ reading

    def require(self, name: str):
        """The field ``name``, or a TableError saying the table lacks that lineage."""
        value = getattr(self, name)
        if value is None:
            raise TableError(f"features table {self.table} has no property {_KEYS[name]!r}: it "
                             "was not written by jobs/extract.py (or its lineage was lost)")
        return value

    def neurons(self, neuron_type: str) -> int:
        """N of ``neuron_type``, or a TableError naming the missing property."""
        if neuron_type not in self.n_neurons:
            raise TableError(f"features table {self.table} has no property "
                             f"{n_neurons_key(neuron_type)!r}: it was not written by "
                             "jobs/extract.py (or its lineage was lost)")
        return self.n_neurons[neuron_type]

    @property
    def width(self) -> int:
        """L×K: the length of every NAG array in the table."""
        return self.require("num_layers") * self.require("top_k")

    def require_neuron_type(self, neuron_type: str, needed_for: str = "") -> None:
        """Refuse a table that holds no NAGs of ``neuron_type``."""
        types = self.neuron_types
        if types is not None and neuron_type not in types:
            why = f": {needed_for}" if needed_for else ""
            raise LineageMismatchError(
                f"features table {self.table} holds NAGs of neuron types {','.join(types)!r}, "
                f"not {neuron_type!r}{why}")

    def check_compatible(self, other: "FeaturesLineage", neuron_type: str) -> None:
        """Refuse to score ``self`` (the pool) against ``other`` (the targets) when their
        NAGs come from another model, weights, L, K, max_length, dtype or neuron count.

        A key absent on either side is not a disagreement (tables from older releases).
        """
        for name in _COMPATIBLE_FIELDS + ("n_neurons",):
            if name == "n_neurons":
                key = n_neurons_key(neuron_type)
                a, b = self.n_neurons.get(neuron_type), other.n_neurons.get(neuron_type)
            else:
                key, a, b = _KEYS[name], getattr(self, name), getattr(other, name)
            if a is not None and b is not None and a != b:
                raise LineageMismatchError(
                    f"pool features {self.table} have {key}={str(a)!r} but target features "
                    f"{other.table} have {key}={str(b)!r}: both must come from the same model "
                    "and settings")
        self.require_neuron_type(neuron_type)
        other.require_neuron_type(neuron_type)

    def with_table(self, table: str) -> "FeaturesLineage":
        return replace(self, table=str(table))


def model_properties(props: Mapping[str, str]) -> dict[str, str]:
    """The lineage keys of a features table that a derived table (a selection) copies."""
    return {k: v for k, v in props.items() if k.startswith(PREFIX) and k != KIND_KEY}


def features_schema(has_dataset: bool, neuron_types: Sequence[str], index_types: Mapping[str, str],
                    carry_fields: Sequence = ()):
    """The Spark schema of a features table (``carry_fields``: extra StructFields)."""
    from pyspark.sql import types as T

    fields = [T.StructField("docid", T.StringType())]
    if has_dataset:
        fields.append(T.StructField("dataset", T.StringType()))
    fields += [T.StructField("token_num", T.LongType()), T.StructField("n_tokens", T.IntegerType())]
    for t in neuron_types:
        kind = index_types[t]
        if packed_bits(kind) is not None:
            fields.append(T.StructField(t, T.BinaryType()))
            continue
        elem = T.ShortType() if kind == "short" else T.IntegerType()
        fields.append(T.StructField(t, T.ArrayType(elem)))
    fields += list(carry_fields)
    return T.StructType(fields)
