"""Telling exactly which input file is unreadable, and why, before Spark reads it.

Spark reports a bad file deep in a Java trace (``An error occurred while calling
o295.collectToPython``), after the job has started. Here each input file is looked at
first, with what a reader needs and no more: the footer of every parquet file (read in
parallel, metadata only), and, for JSONL, the first malformed record Spark's own parser
finds, located by file and line. The errors name the file and the cause.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

from ..errors import InputError

JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")
_CORRUPT = "_corrupt_record"
# Lines of a Py4J error that only say where the call came from.
_NOISE = re.compile(r"^(An error occurred while calling \S+|:)\s*$")
_JAVA_PREFIX = re.compile(r"^:?\s*(?:[a-z]\w*\.)+[A-Z]\w*(?:Exception|Error):\s*")


def visible_files(path: str) -> list[str]:
    """The data files a reader of ``path`` takes: the file itself, or every file under the
    folder whose name (and folders) do not start with ``_`` or ``.``."""
    if os.path.isfile(path):
        return [path]
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(("_", "."))]
    return out


def _footer_problem(file: str) -> str | None:
    import pyarrow.parquet as pq

    try:
        pq.ParquetFile(file).metadata
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds: report the text
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def check_parquet_files(path: str) -> None:
    """Refuse a parquet input holding a file that is not parquet or whose footer is
    unreadable (truncated, empty, another format), naming the file.

    Raises
    ------
    InputError
    """
    files = visible_files(path)
    if os.path.isdir(path):
        stray = [f for f in files if not f.endswith(".parquet")]
        if stray:
            shown = ", ".join(os.path.relpath(f, path) for f in stray[:5])
            raise InputError(
                f"input folder {path} is read as parquet but holds files that are not: {shown} "
                "(a folder of documents holds one format; move the others out)")
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(files)))) as pool:
        problems = list(pool.map(_footer_problem, files))
    for file, problem in zip(files, problems):
        if problem:
            raise InputError(f"input file {file} is not a readable parquet file: its footer "
                             f"cannot be read ({problem})")


def _line_of(file: str, record: str) -> int | None:
    """The 1-based line of ``file`` holding ``record`` (None if not found)."""
    import gzip

    opener = gzip.open if file.endswith(".gz") else open
    want = record.rstrip("\r\n")
    with opener(file, "rt", encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if line.rstrip("\r\n") == want:
                return number
    return None


def malformed_json(spark, path: str) -> str | None:
    """Where the first malformed JSONL record of ``path`` is: ``"file F, line N: <text>"``
    (None when Spark's parser accepts every record)."""
    from pyspark.sql import functions as F

    # A schema with one real column: Spark refuses queries of the corrupt column alone.
    df = (spark.read.schema(f"docid string, {_CORRUPT} string")
          .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", _CORRUPT).json(path))
    rows = (df.where(F.col(_CORRUPT).isNotNull())
            .select("docid", _CORRUPT, F.input_file_name().alias("file")).limit(1).collect())
    if not rows:
        return None
    from urllib.parse import unquote, urlparse

    file = unquote(urlparse(rows[0]["file"]).path) if "://" in rows[0]["file"] else rows[0]["file"]
    record = rows[0][_CORRUPT]
    line = _line_of(file, record) if os.path.isfile(file) else None
    where = f"file {file}" + (f", line {line}" if line else "")
    shown = record.strip()
    return f"{where}: {shown[:80]!r}{'...' if len(shown) > 80 else ''}"


def spark_error_text(exc: Exception) -> str:
    """The line of a Spark/Py4J error that says what went wrong (its Java cause, without
    the ``An error occurred while calling oNNN`` wrapper and the stack).

    >>> spark_error_text(Exception("An error occurred while calling o83.parquet.\\n"
    ...     ": org.apache.spark.SparkException: [FAILED_READ_FILE] Bad file x.parquet.\\n"
    ...     "\\tat org.apache.Foo(Foo.java:1)"))
    '[FAILED_READ_FILE] Bad file x.parquet.'
    """
    lines = [ln.strip() for ln in str(exc).splitlines()]
    lines = [ln for ln in lines if ln and not _NOISE.match(ln) and not ln.startswith("at ")]
    if not lines:
        return type(exc).__name__
    first = _JAVA_PREFIX.sub("", lines[0])
    causes = [_JAVA_PREFIX.sub("", ln[len("Caused by:"):].strip()) for ln in lines
              if ln.startswith("Caused by:")]
    root = causes[-1] if causes else ""
    text = first if not root or root in first else f"{first} (cause: {root})"
    return text[:400]
