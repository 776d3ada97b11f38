"""Shared helpers for the extraction tests: a tiny random-init Llama with the real SmolLM2
tokenizer, synthetic documents, and independent readers of the features table.

The model is about the system, not the NAGs: 2 layers, hidden size 32, so a forward pass
costs next to nothing and the tests spend their time in Spark, Delta and the commit
protocol. It is saved with ``save_pretrained`` into a plain Hugging Face folder and used by
path (``--model <folder>``), exactly as a user's own model folder would be.

Test modules import the fixture: ``from tiny_model import tiny_model  # noqa: F401``.
"""
from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
WORDS = ("the of and to in is was for on that with as by at from his her they river stone "
         "market winter garden signal engine harbor lantern orchard ledger meadow copper "
         "violin canyon thunder velvet quartz meridian archive").split()

_BUILT: dict[str, str] = {}


def build_tiny_model(folder: Path) -> str:
    """Write a 2-layer random Llama plus the SmolLM2 tokenizer into ``folder``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from nag_spark.models import local_model_dir, resolve_model_spec

    tok_dir = local_model_dir(resolve_model_spec("smollm2-135m"))
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=256, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """The tiny model folder (built once per test process, whichever module asks first)."""
    if "path" not in _BUILT:
        _BUILT["path"] = build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
    return _BUILT["path"]


def texts(n: int, seed: int = 0, min_words: int = 3, max_words: int = 60) -> list[str]:
    """``n`` synthetic documents of varied length (deterministic for a seed)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(min_words, max_words)))
            for _ in range(n)]


def write_docs(path: Path, docids: list[str], seed: int = 0, row_group_size: int | None = None,
               **extra) -> dict[str, str]:
    """A web-layout parquet file of ``docids``; returns ``{docid: text}``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = texts(len(docids), seed)
    cols = {"docid": docids, "doc": docs, "dataset": ["synth"] * len(docids)}
    cols.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), str(path), row_group_size=row_group_size)
    return dict(zip(docids, docs))


# ------------------------------------------------------------------ independent readers

def log_versions(table: str) -> list[int]:
    """Every version in the table's ``_delta_log`` (raw listing, not our code)."""
    names = os.listdir(os.path.join(table, "_delta_log"))
    return sorted(int(n[:20]) for n in names if n.endswith(".json") and n[:20].isdigit())


def referenced_files(table: str) -> set[str]:
    """Every data file any commit of the log adds (live or removed since), by raw parse."""
    out = set()
    for v in log_versions(table):
        with open(os.path.join(table, "_delta_log", f"{v:020d}.json"), encoding="utf-8") as fh:
            for line in fh:
                action = json.loads(line)
                if "add" in action:
                    out.add(action["add"]["path"])
    return out


def duckdb_docids(table: str, version: int | None = None) -> list[str]:
    """Docids of the table at ``version`` read by DuckDB from the files deltalake lists.

    DuckDB's ``delta_scan`` needs the ``delta`` extension, downloaded on first use; these
    machines are offline, so DuckDB reads the parquet files of the version instead.
    """
    import duckdb
    from deltalake import DeltaTable

    files = DeltaTable(table, version=version).file_uris()
    if not files:
        return []
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return [r[0] for r in duckdb.sql(f"select docid from read_parquet([{listing}])").fetchall()]


def assert_readable_at_every_version(table: str) -> None:
    """``deltalake`` and DuckDB read every version of the table; no version holds a
    duplicate docid."""
    from deltalake import DeltaTable

    for v in log_versions(table):
        ids = DeltaTable(table, version=v).to_pyarrow_table(columns=["docid"]).column("docid").to_pylist()
        assert len(ids) == len(set(ids)), f"version {v} holds a duplicate docid"
        assert sorted(duckdb_docids(table, v)) == sorted(ids), f"version {v}"


def assert_no_leftovers(table: str) -> None:
    """The table folder holds only files the log references, plus ``_delta_log``: no
    staging folder, no file of a failed, lost or killed attempt."""
    names = set(os.listdir(table)) - {"_delta_log"}
    assert names <= referenced_files(table), sorted(names - referenced_files(table))


def job_env(**extra) -> dict[str, str]:
    """Environment of a job run as a subprocess (quiet, offline, no GPU)."""
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable, HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", CUDA_VISIBLE_DEVICES="")
    env.update({k: str(v) for k, v in extra.items()})
    return env
