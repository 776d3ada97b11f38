"""Rewrite a features table of an earlier release (NAGs as ``array<short>``/``array<int>``)
into today's packed ``binary`` NAG columns: ``jobs/repack.py``.

Old tables keep working everywhere; ranking reads the packed layout several times faster
(README, ``bench/rank_scale.py``). The copy keeps every row, column and ``nag.*`` property
(the lineage), so it ranks exactly as the original; it is one new table, written in one
commit, and the original is left untouched.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError, TableError
from ..logs import get_logger
from ..tables.features import KIND, KIND_KEY, PREFIX, FeaturesLineage
from ..tables.nag_codec import decode_nags, encode_nags, index_type

log = get_logger(__name__)


def _packed_schema(df, kinds: dict):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, T.BinaryType()) if f.name in kinds else f
                         for f in df.schema])


def repack_features(spark, source: str, output: str) -> tuple[int, dict[str, str]]:
    """Write ``source``'s rows to a new table ``output`` with packed NAG columns.

    Returns
    -------
    tuple
        ``(version written, {column: kind})`` of the columns repacked.

    Raises
    ------
    TableError
        ``output`` exists or is not a place for a table; ``source`` is no features table.
    InputError
        ``source`` has no NAG column to repack.
    """
    import pyarrow as pa

    from ..delta import read_snapshot, write_table
    from ..delta.output_check import check_table_output

    if check_table_output(output, inputs=[("--input", source)], kind=KIND, kind_key=KIND_KEY):
        raise TableError(f"--output {output} exists: repack writes a new table")
    snap = read_snapshot(spark, source)
    if snap.properties.get(KIND_KEY) != KIND:
        raise TableError(f"--input {source} is not a features table (no {KIND_KEY}={KIND})")
    lineage = FeaturesLineage.from_properties(snap.properties, source)
    width = lineage.width
    kinds = {t: index_type(lineage.neurons(t)) for t in (lineage.neuron_types or ())
             if t in snap.df.columns and snap.df.schema[t].dataType.typeName() == "array"}
    if not kinds:
        raise InputError(f"--input {source} has no array NAG column to repack (already packed?)")
    schema = _packed_schema(snap.df, kinds)

    def convert(batches):
        for batch in batches:
            cols = []
            for name in batch.schema.names:
                col = batch.column(name)
                if name in kinds:
                    valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False))
                    nags = np.zeros((len(col), width), np.int64)
                    nags[valid] = decode_nags(col.filter(pa.array(valid)), width, name)
                    col = encode_nags(nags, valid, kinds[name])
                cols.append(col)
            yield pa.RecordBatch.from_arrays(cols, names=batch.schema.names)

    props = {k: v for k, v in snap.properties.items() if k.startswith(PREFIX)}
    version = write_table(snap.df.mapInArrow(convert, schema), output, mode="error",
                          properties=props,
                          commit_info={"job": "repack", "source": f"{source}@v{snap.version}"})
    log.info("repacked %s@v%d into %s@v%d (%s)", source, snap.version, output, version,
             ", ".join(f"{c}: {k}" for c, k in kinds.items()))
    return version, kinds
