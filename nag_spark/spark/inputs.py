"""Reading and validating the documents to extract: parquet, JSONL or Delta; web or final.

Formats (the official release's two layouts):

- ``web``: columns ``docid``, ``doc``, optional ``token_num`` and ``dataset``;
- ``final``: a struct ``meta`` with ``docid`` (and optionally ``dataset``, ``token_num``)
  and the text in ``content_split``.

The result always has ``docid`` (string) and ``doc`` (string), plus ``dataset`` and
``token_num`` when the input has them and any ``carry`` columns asked for.

Validation, before any model work: a missing file or column, an unreadable file (named,
with the cause: footer unreadable, malformed record at line N, not parquet...), null,
empty or duplicate docids, and token counts that are not non-negative integers stop the
job with an :class:`~nag_spark.errors.InputError` naming the file and column. Rows whose
text is null, empty or only whitespace have no NAG: they are skipped and counted in the log
(documented, not an error), as DESIGN.md §1 does for documents with no token. Text that is
not valid UTF-8 is not refused: extraction replaces the bad bytes with U+FFFD and counts
the documents (``invalid_utf8`` in its result and MLflow run).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ..logs import get_logger
from ..tables.features import FEATURE_COLUMNS
from .input_checks import check_parquet_files, malformed_json, spark_error_text

log = get_logger(__name__)

FORMATS = ("web", "final")
# How many offending docids an error message shows.
_EXAMPLES = 5


@dataclass
class InputDocs:
    """Validated documents and facts about where they came from.

    Attributes
    ----------
    df : pyspark.sql.DataFrame
        ``docid``, ``doc`` [, ``dataset``] [, ``token_num``] [, carried columns]; rows with
        empty text already removed.
    path : str
    kind : {"parquet", "json", "delta"}
    version : int or None
        Delta version read (Delta inputs only).
    rows : int
        Documents kept.
    skipped_empty : int
        Rows dropped for null/empty text.
    """

    df: object
    path: str
    kind: str
    version: int | None = None
    rows: int = 0
    skipped_empty: int = 0
    columns: list = field(default_factory=list)
    raw_schema: object = None


def detect_input_kind(path: str) -> str:
    """``delta`` (a folder with ``_delta_log``), ``json`` (``.jsonl``/``.json`` files) or ``parquet``."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"input {path} does not exist")
    if p.is_dir():
        if (p / "_delta_log").is_dir():
            return "delta"
        names = [f.name for f in p.rglob("*") if f.is_file() and not f.name.startswith(("_", "."))]
        if names and all(n.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz")) for n in names):
            return "json"
        if not any(n.endswith(".parquet") for n in names):
            raise InputError(f"input folder {path} holds no .parquet, .jsonl or Delta table")
        return "parquet"
    if p.name.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz")):
        return "json"
    return "parquet"


def _read_raw(spark, path: str, kind: str):
    from ..delta import read_snapshot

    version = None
    if kind == "parquet":
        check_parquet_files(path)  # names a truncated or foreign file before Spark trips on it
    try:
        if kind == "delta":
            df, version, _ = read_snapshot(spark, path)
        elif kind == "json":
            df = spark.read.option("mode", "PERMISSIVE").json(path)
        else:
            df = spark.read.parquet(path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - Spark/Py4J errors: turn into one clear line
        raise InputError(f"cannot read input {path} as {kind}: {spark_error_text(exc)}") from exc
    if kind == "json" and "_corrupt_record" in df.columns:
        # Spark's schema inference met a record it cannot parse: say where it is.
        where = malformed_json(spark, path) or "(record not located)"
        raise InputError(f"input {path}: malformed JSON record in {where}")
    return df, version


# Spark's integer types: a token count of another type is refused, never cast.
_INTEGRAL = ("tinyint", "smallint", "int", "bigint")


def _select_format(df, fmt: str, path: str, carry: Sequence[str]):
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    cols = df.columns
    if fmt == "web":
        for needed in ("docid", "doc"):
            if needed not in cols:
                raise InputError(f"input {path} has no column {needed!r} (format web needs "
                                 f"docid and doc; columns: {', '.join(cols)})")
        out = [F.col("docid").cast("string").alias("docid"), F.col("doc").alias("doc")]
        extra = {c: F.col(c) for c in ("dataset", "token_num") if c in cols}
    elif fmt == "final":
        meta = df.schema["meta"].dataType if "meta" in cols else None
        if not isinstance(meta, StructType) or "docid" not in meta.fieldNames():
            raise InputError(f"input {path} has no column 'meta.docid' (format final needs "
                             f"meta.docid and content_split; columns: {', '.join(cols)})")
        if "content_split" not in cols:
            raise InputError(f"input {path} has no column 'content_split' (format final needs "
                             f"meta.docid and content_split; columns: {', '.join(cols)})")
        out = [F.col("meta.docid").cast("string").alias("docid"), F.col("content_split").alias("doc")]
        extra = {}
        for c in ("dataset", "token_num"):
            if c in meta.fieldNames():
                extra[c] = F.col(f"meta.{c}")
            elif c in cols:
                extra[c] = F.col(c)
    else:
        raise InputError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")
    doc_type = df.select(out[1]).schema[0].dataType.simpleString()
    if doc_type != "string":
        raise InputError(f"input {path}: the text column must be a string, found {doc_type}")
    id_col = "docid" if fmt == "web" else "meta.docid"
    id_type = df.select(id_col).schema[0].dataType.simpleString()
    if id_type != "string" and id_type not in _INTEGRAL:
        # Spark and the workers' Arrow would spell other types differently ("1.0" / "1").
        raise InputError(f"input {path}: column {id_col!r} is {id_type}; docids must be "
                         "strings or integers")
    if "dataset" in extra:
        out.append(extra["dataset"].cast("string").alias("dataset"))
    if "token_num" in extra:
        tn_type = df.select(extra["token_num"]).schema[0].dataType.simpleString()
        if tn_type not in _INTEGRAL:
            raise InputError(
                f"input {path}: column 'token_num' is {tn_type}; token counts must be integers "
                "(cast the column, or drop it and extraction counts the tokens itself)")
        out.append(extra["token_num"].cast("long").alias("token_num"))
    for c in carry:
        if c not in cols:
            raise InputError(f"input {path} has no column {c!r} to carry along")
        if c in FEATURE_COLUMNS:  # extraction writes these itself
            continue
        out.append(F.col(c))
    return df.select(*out)


def read_documents(spark, path: str | os.PathLike, fmt: str = "web", *, limit: int | None = None,
                   carry: Sequence[str] = (), check_text: bool = True) -> InputDocs:
    """Read and validate the documents at ``path``.

    Parameters
    ----------
    spark : SparkSession
    path : str or os.PathLike
        A parquet file or folder, a JSONL file or folder, or a Delta table folder.
    fmt : {"web", "final"}
    limit : int, optional
        Keep only the first ``limit`` rows (file order; deterministic for the same files).
    carry : sequence of str
        Extra input columns to keep (they are carried into the features table).
    check_text : bool
        Count and drop rows with empty text here (one more scan, of the text column).
        Extraction passes False: its workers skip and count them as they read the text.

    Raises
    ------
    InputError
        Missing path or column, unreadable file (named, with the cause), null, empty or
        duplicate docids, token counts that are not non-negative integers.

    Examples
    --------
    >>> docs = read_documents(spark, "../shared/data/pool.parquet", limit=100)  # doctest: +SKIP
    >>> docs.rows, docs.df.columns                                              # doctest: +SKIP
    (100, ['docid', 'doc', 'dataset', 'token_num'])
    """
    from pyspark.sql import functions as F

    path = os.fspath(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")
    kind = detect_input_kind(path)
    raw, version = _read_raw(spark, path, kind)
    df = _select_format(raw, fmt, path, carry)
    if limit is not None:
        if limit <= 0:
            raise InputError(f"--limit must be positive, got {limit}")
        df = df.limit(int(limit))
    # Spark's trim() strips spaces only; whitespace of any kind makes a document "empty".
    empty = F.col("doc").isNull() | (F.length(F.regexp_replace(F.col("doc"), r"\s+", "")) == 0)
    if not check_text:
        empty = F.lit(False)
    stats = _validate(df, path, empty)
    skipped = int(stats["empty"] or 0)
    if skipped:
        log.warning("input %s: skipping %d documents with null or empty text (no NAG)", path, skipped)
        df = df.filter(~empty)
    rows = int(stats["rows"]) - skipped
    log.info("input %s (%s, format %s): %d documents", path, kind, fmt, rows)
    return InputDocs(df=df, path=path, kind=kind, version=version, rows=rows,
                     skipped_empty=skipped, columns=df.columns, raw_schema=raw.schema)


def _examples(df, cond, column: str = "docid") -> str:
    rows = df.where(cond).select(column).limit(_EXAMPLES).collect()
    return ", ".join(repr(r[0]) for r in rows)


def _validate(df, path: str, empty) -> dict:
    """One aggregation over the documents (plus the duplicate check), then the refusals,
    each naming the column and a few offending docids."""
    from pyspark.sql import functions as F

    ids = F.col("docid")
    tokens = F.col("token_num") if "token_num" in df.columns else None
    aggs = [F.count(F.lit(1)).alias("rows"), F.sum(ids.isNull().cast("long")).alias("null_ids"),
            F.sum((F.length(F.regexp_replace(ids, r"\s+", "")) == 0).cast("long")).alias("blank_ids"),
            F.sum(empty.cast("long")).alias("empty")]
    if tokens is not None:
        aggs += [F.sum(tokens.isNull().cast("long")).alias("null_tokens"),
                 F.sum((tokens < 0).cast("long")).alias("negative_tokens")]
    try:
        stats = df.agg(*aggs).collect()[0].asDict()
        dups = (df.groupBy("docid").count().filter(F.col("count") > 1)
                .orderBy(F.col("count").desc(), "docid").limit(_EXAMPLES).collect())
    except Exception as exc:  # noqa: BLE001 - corrupt files surface only when data is read
        raise InputError(f"cannot read input {path}: {spark_error_text(exc)}") from exc
    if stats["null_ids"]:
        raise InputError(f"input {path}: column 'docid' has {stats['null_ids']} null values")
    if stats["blank_ids"]:
        raise InputError(f"input {path}: column 'docid' has {stats['blank_ids']} empty values "
                         "(a docid must name its document)")
    if dups:
        shown = ", ".join(f"{r['docid']!r} ({r['count']}x)" for r in dups)
        raise InputError(f"input {path}: duplicate docids in column 'docid', e.g. {shown}")
    for key, what, cond in (("null_tokens", "null", tokens.isNull() if tokens is not None else None),
                            ("negative_tokens", "negative", tokens < 0 if tokens is not None else None)):
        if stats.get(key):
            raise InputError(
                f"input {path}: column 'token_num' has {stats[key]} {what} values (e.g. docid "
                f"{_examples(df, cond)}); token counts must be non-negative integers (or drop "
                "the column: extraction then counts the tokens itself)")
    return stats
