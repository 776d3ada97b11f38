"""Helpers for the Delta tests: sample frames and checks by readers independent of ours.

DuckDB's ``delta_scan`` needs the ``delta`` extension, which DuckDB downloads on first use;
these machines are offline, so DuckDB reads the parquet files the log lists instead
(``read_parquet``), Polars reads the table with ``read_delta``, ``deltalake.DeltaTable`` gives
history, schema, properties and file statistics, and the raw ``_delta_log`` JSON is parsed by
hand to show the log is the standard one.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "scripts" / "delta_write_job.py"


class DeltaCheck:
    """Independent views of one Delta table directory."""

    def __init__(self, path):
        self.path = str(path)

    def table(self, version=None):
        from deltalake import DeltaTable

        return DeltaTable(self.path, version=version)

    def version(self) -> int:
        return self.table().version()

    def history(self) -> list[dict]:
        return self.table().history()

    def properties(self) -> dict:
        return dict(self.table().metadata().configuration)

    def schema(self) -> dict[str, str]:
        """Column name -> Delta type as written in the log's schemaString."""
        schema = json.loads(self.table().schema().to_json())
        return {f["name"]: (f["type"] if isinstance(f["type"], str) else
                            f"array<{f['type']['elementType']}>" if f["type"]["type"] == "array"
                            else f["type"]["type"]) for f in schema["fields"]}

    def add_stats(self) -> list[dict]:
        """The ``stats`` of every live file, parsed."""
        return [json.loads(s) for s in self.commit_adds_stats()]

    def commit_adds_stats(self) -> list[str]:
        live = {os.path.basename(u) for u in self.table().file_uris()}
        out = []
        for entry in self.log_entries():
            add = entry.get("add")
            if add and os.path.basename(add["path"]) in live:
                out.append(add["stats"])
        return out

    def log_entries(self) -> list[dict]:
        """Every action of every JSON commit, in commit order (parsed by hand)."""
        out = []
        for commit in sorted(Path(self.path, "_delta_log").glob("*.json")):
            out.extend(json.loads(line) for line in commit.read_text().splitlines() if line)
        return out

    def polars(self, version=None):
        import polars as pl

        return pl.read_delta(self.path, version=version)

    def duckdb_count(self, version=None) -> int:
        import duckdb

        files = self.table(version).file_uris()
        if not files:
            return 0
        return duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r})").fetchone()[0]

    def data_files_on_disk(self) -> set[str]:
        """Parquet files in the table folder outside ``_``-prefixed folders."""
        root = Path(self.path)
        return {str(p.relative_to(root)) for p in root.rglob("*.parquet")
                if not any(part.startswith("_") for part in p.relative_to(root).parts)}


@pytest.fixture
def check():
    return DeltaCheck


def _load_script():
    spec = importlib.util.spec_from_file_location("delta_write_job", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def features_frame(spark):
    """``make(n, offset=0, partitions=2)``: a features-like frame (the writer script's)."""
    features_like = _load_script().features_like
    return lambda n, offset=0, partitions=2: features_like(spark, n, offset, partitions)
