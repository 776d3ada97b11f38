"""Shared by the bad-input, property-based and crash-point tests (issue 13).

- :func:`tiny_model_dir`: a 2-layer random-init Llama with the real SmolLM2 tokenizer, saved
  as a Hugging Face folder: the tests are about the system (inputs, tables, commits), so
  the model should cost nothing;
- :func:`as_job`: a library entry point run the way ``jobs/*.py`` run it (``cli.run_job``):
  exit status 0, or 2 with ``error: <message>`` on stderr;
- :class:`TableState`: a table's version, rows and properties as independent readers see
  them, to prove a refused run left it unchanged;
- writers of odd inputs (invalid UTF-8 text, truncated files);
- :func:`kill_session`: SIGKILL every process of a job started in a session of its own.

Imported by basename (``tests`` is on ``sys.path``).
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_MODEL: dict[str, str] = {}
# The tiny model's shape: its NAGs hold TINY_LAYERS x K indices below TINY_FWD_UP.
TINY_LAYERS, TINY_FWD_UP = 2, 32


def tiny_model_dir(root: Path) -> str:
    """Build (once per process) the tiny model folder under ``root``."""
    if "path" in _MODEL:
        return _MODEL["path"]
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from nag_spark.models import local_model_dir, resolve_model_spec

    folder = root / "tiny-llama"
    tokenizer = AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec("smollm2-135m"))))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=TINY_FWD_UP,
                         num_hidden_layers=TINY_LAYERS, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=128, tie_word_embeddings=True)
    torch.manual_seed(13)
    LlamaForCausalLM(config).eval().save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    _MODEL["path"] = str(folder)
    return str(folder)


@dataclass
class JobOutcome:
    status: int
    stderr: str
    result: object = None

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("error: ")]


def as_job(call) -> JobOutcome:
    """Run ``call()`` inside :func:`nag_spark.cli.run_job`: what a job's user would see."""
    from nag_spark.cli import run_job

    box: dict = {}
    err = io.StringIO()

    def body(_argv):
        box["result"] = call()
        return 0

    with redirect_stderr(err):
        status = run_job(body, [])
    # The nag-spark log handler writes to the real stderr; only run_job's line lands here.
    return JobOutcome(status, err.getvalue(), box.get("result"))


@dataclass(frozen=True)
class TableState:
    """What independent readers see of a Delta table (``exists`` False: no table)."""

    exists: bool
    version: int | None = None
    rows: tuple = ()
    properties: tuple = ()

    @classmethod
    def of(cls, path) -> "TableState":
        from deltalake import DeltaTable

        if not os.path.isdir(os.path.join(str(path), "_delta_log")):
            return cls(False)
        table = DeltaTable(str(path))
        data = table.to_pyarrow_table()
        keys = [c for c in ("docid", "target") if c in data.column_names]
        rows = tuple(sorted(tuple(str(v) for v in row.values())
                            for row in data.select(keys).to_pylist()))
        return cls(True, table.version(), rows, tuple(sorted(table.metadata().configuration.items())))


def write_parquet_with_bad_utf8(path: Path, docids: list[str], texts: list[bytes]) -> None:
    """A parquet file whose ``doc`` is a *string* column holding the given raw bytes.

    Arrow refuses to build such a column from Python, so the bytes go in as binary and the
    file's schema is relabelled as string: what a writer that does not validate produces.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = pa.array(texts, pa.binary())
    doc = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers(), raw.null_count)
    pq.write_table(pa.table({"docid": pa.array(docids), "doc": doc}), str(path))


def truncate(path: Path, keep: int = 100) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def job_env(**extra) -> dict[str, str]:
    """Environment of a job run as a subprocess (quiet, offline, no GPU)."""
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable, HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", CUDA_VISIBLE_DEVICES="",
               NAG_LOG_LEVEL="WARNING")
    env.pop("NAG_DELTA_WRITER", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(job: str, argv: list[str]) -> JobOutcome:
    """``jobs/<job>.py`` run in this process (its argparse, options and ``run_job`` tail),
    on the active Spark session: exit status and what it printed on stderr."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"nag_job_{job}", REPO / "jobs" / f"{job}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    err = io.StringIO()
    with redirect_stderr(err):
        status = module.main(argv)
    return JobOutcome(status, err.getvalue())


def session_pids(sid: int) -> list[int]:
    """The live processes of session ``sid`` (from /proc; zombies left out)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(name))
    return pids


def kill_session(proc: subprocess.Popen) -> list[int]:
    """SIGKILL every process of the session ``proc`` leads (started with
    ``start_new_session=True``): PySpark's daemon moves its workers into a process group of
    their own, so killing the job's group alone would leave them running. Returns the
    killed pids; fails if any survives."""
    killed: set[int] = set()
    deadline = time.time() + 30
    while time.time() < deadline and (pids := session_pids(proc.pid)):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    proc.wait(30)
    assert not session_pids(proc.pid), "processes of a killed job survived"
    return sorted(killed)
