"""The pool and target documents of a baseline selection, read and checked as extraction
reads its input (:func:`nag_spark.spark.inputs.read_documents`): a parquet file or folder,
JSONL or a Delta table with ``docid`` and ``doc`` (text), optional ``dataset`` and
``token_num``; docids unique and non-empty, token counts non-negative integers, rows with
empty text skipped and counted.

A table without ``token_num`` gets it the way extraction counts it: the whole text
tokenized with the backbone's tokenizer (``token_model``, default SmolLM2-135M), no special
tokens, the tokenizer loaded once per Python worker.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ...config import TargetSpec
from ...errors import InputError
from ...logs import get_logger
from ..inputs import InputDocs, read_documents
from ..targets import collect_target_rows, target_condition

log = get_logger(__package__)
_TOKENIZERS: dict[str, object] = {}  # per Python worker: model name -> tokenizer


@dataclass(frozen=True, eq=False)
class SelectionDocs:
    """The pool to score and the target examples.

    Attributes
    ----------
    pool_df : DataFrame
        ``docid``, ``doc``, ``dataset`` (null when the table has none), ``token_num`` and
        the payload columns; without the target rows when both come from one table.
    target_texts : list of str
        The target examples' texts, in docid order (the fit does not depend on row order).
    pool, targets : InputDocs
        What was read (path, kind, Delta version, rows, skipped empty texts).
    excluded_target_rows : int
        Target rows dropped from the pool (same table only).
    counted_tokens : bool
        Whether ``token_num`` was counted here (the pool table had none).
    """

    pool_df: object
    target_texts: list
    pool: InputDocs
    targets: InputDocs
    excluded_target_rows: int
    counted_tokens: bool


def _tokenizer(model: str):
    tok = _TOKENIZERS.get(model)
    if tok is None:
        from transformers import AutoTokenizer

        from ...models import local_model_dir, resolve_model_spec
        from ...models.loading import quiet_transformers

        quiet_transformers()
        tok = AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec(model))))
        _TOKENIZERS[model] = tok
    return tok


def with_token_counts(df, model: str):
    """``df`` with a ``token_num`` column: full token counts of ``doc`` (no special tokens),
    as extraction counts them for an input without one."""
    import pyarrow as pa
    from pyspark.sql.types import LongType, StructField, StructType

    from ...kernels.tokenize import token_counts

    schema = StructType(list(df.schema.fields) + [StructField("token_num", LongType(), False)])
    names = df.columns + ["token_num"]

    def count(batches):
        tok = _tokenizer(model)
        for batch in batches:
            texts = batch.column("doc").to_pylist()
            counts = token_counts(tok, texts) if texts else []
            cols = [batch.column(c) for c in df.columns] + [pa.array(counts, pa.int64())]
            yield pa.RecordBatch.from_arrays(cols, names=names)

    return df.mapInArrow(count, schema)


def same_table(a: str, b: str) -> bool:
    """Whether two paths name one table (``/x``, ``file:///x`` and a link to it agree)."""
    from ..rank.plan import known_location

    return known_location(a) == known_location(b)


def read_selection_docs(spark, spec: TargetSpec, pool_path: str, target_path: str,
                        payload_cols: Sequence[str] = (), token_model: str = "smollm2-135m") -> SelectionDocs:
    """Read and check both tables, collect the target texts, and shape the pool.

    Raises
    ------
    InputError
        A missing table, column or target filter column, an empty target, a payload column
        the pool lacks, or any problem :func:`read_documents` refuses.
    """
    from pyspark.sql import functions as F

    from ...tables.selection import clashing_payload

    clash = clashing_payload(payload_cols)
    if clash or "score" in payload_cols:
        raise InputError(f"payload column {(clash or ['score'])[0]!r} is already a selection column")
    filter_col = [spec.column] if spec.column not in ("docid", "doc", "dataset", "token_num") else []
    same = same_table(pool_path, target_path)

    def read(path, carry, role):
        try:
            return read_documents(spark, path, carry=carry)
        except InputError as exc:
            if filter_col and f"no column {spec.column!r} to carry" in str(exc):
                raise InputError(f"target {spec.name!r} filters on column {spec.column!r}, which "
                                 f"the {role} {path} lack") from None
            raise

    pool = read(pool_path, list(payload_cols) + (filter_col if same else []), "pool docs")
    targets = pool if same else read(target_path, filter_col, "target docs")
    if spec.column not in targets.df.columns:
        raise InputError(f"target {spec.name!r} filters on column {spec.column!r}, which "
                         f"target docs {target_path} lack (columns: {', '.join(targets.raw_schema.names)})")
    table = collect_target_rows(targets.df, [spec], ["docid", "doc"], target_path)[0]
    from ..rank.profiles import check_unique_docids

    check_unique_docids(table, f"target {spec.name!r} of {target_path}", action="selected")
    table = table.sort_by("docid")
    texts = table.column("doc").to_pylist()
    df, excluded = pool.df, 0
    if same:
        # Target examples must not select themselves: drop them from the pool.
        df = df.filter(~target_condition([spec]))
        excluded = table.num_rows
        log.info("target rows come from the pool table: %d target rows excluded from the pool", excluded)
    if "dataset" not in df.columns:
        df = df.withColumn("dataset", F.lit(None).cast("string"))
    counted = "token_num" not in df.columns
    if counted:
        log.info("pool %s has no token_num: counting tokens with the %s tokenizer", pool_path, token_model)
        df = with_token_counts(df, token_model)
    df = df.select("docid", "doc", "dataset", "token_num", *payload_cols)
    return SelectionDocs(df, texts, pool, targets, excluded, counted)
