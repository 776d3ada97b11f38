"""Extraction at pool scale: the job end to end against the tokenizer floor, side by side.

    python bench/extract_scale.py [--sizes 100k,1M,5M] [--workdir /tmp/nag-extract-scale]

The model is a 2-layer random-init Llama (hidden 16, one head: a forward costs ~0.1 ms
per document, less than tokenizing it) saved to a folder with the real SmolLM2
tokenizer, so what is measured is the host work around the model (reading, tokenizing,
batching, writing, committing): what a GPU would wait for. The documents are real text
resampled (with replacement) from ``../shared/data/pool.parquet``, docids made unique with
a ``#<row>`` suffix, written by pyarrow (seconds, no Spark) as parquet files of 500k rows
in row groups of 100k rows (~130 MB of text: what Spark's 128 MB parquet blocks give).
The texts of one 500k-row file are drawn once and every file reuses them under its own
docids, and each size's input is kept under ``<workdir>/inputs`` and reused by later runs
(``--fresh-inputs`` writes them again), so the 5M input costs about a minute once.

For each size:

- **job**: a fresh driver process (so its memory is its own) runs ``run_extraction``
  (``local[*]``, profile ``local``, fp32, ``--batch-tokens`` 4096, MLflow run and Delta
  commits included) after an unreported, tracked 2k-document warm-up job; this process samples
  the driver Python, its JVM child and the Python workers under the JVM every 0.25 s
  (psutil, else /proc) for peak RSS and CPU seconds;
- **floor**: the tokenizer alone (``prefix_token_ids``: each document's necessary
  prefix, batches of 1024) on ``--floor-docs`` documents of the same input, on the same
  cores, right after the job, in two ways: one process per core with one tokenizer thread
  each, and one process using the tokenizer's own parallel batch encode (one thread per
  core). The faster one is the floor; both are printed. The model's own cost per document
  (one thread, no Spark) is printed beside it.

Every rate is given per wall second and per CPU second. On a machine shared with other
work the wall rates measure the neighbours as much as the job (the floor runs minutes
after the job, under other load); CPU seconds are far less sensitive, so the CPU ratio
(``job_over_floor_cpu``) is the one to compare across runs.

Prints one JSON line per size, then the ratios: job/floor at each size, docs/s relative to
the smallest size, and the driver's peak memory across sizes. The load average of the
machine before and after the job and the floor is in every row. The results so far
(rows and summary) are rewritten to ``--json`` (default ``<workdir>/extract_scale.json``)
after every size, so a run stopped during the 5M job still reports 100k and 1M. Goals
(issue 10): job >= 0.5 of the floor at 100k, docs/s within 15% from 100k to 5M, flat
driver memory.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

POOL = REPO.parent / "shared" / "data" / "pool.parquet"
ROWS_PER_FILE = 500_000
ROW_GROUP_ROWS = 100_000
WARMUP_DOCS = 2_000


def parse_size(text: str) -> int:
    """``100k`` / ``1M`` / ``5e6`` -> documents.

    >>> parse_size("100k"), parse_size("1M"), parse_size("5e6")
    (100000, 1000000, 5000000)
    """
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


# ---------------------------------------------------------------- model and data


def build_model(folder: Path) -> Path:
    """A 2-layer random Llama with the SmolLM2 tokenizer, saved as a model folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from nag_spark.models import local_model_dir, resolve_model_spec

    if (folder / "config.json").is_file():
        return folder
    tok = AutoTokenizer.from_pretrained(str(local_model_dir(resolve_model_spec("smollm2-135m"))))
    # Hidden 16, one head: a forward of 4096 tokens costs ~0.2 ms per document on one
    # core, less than tokenizing it; wider models are dominated by their matmuls here.
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                      num_hidden_layers=2, num_attention_heads=1, num_key_value_heads=1,
                      max_position_embeddings=512, tie_word_embeddings=True,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).eval().save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def generate(path: Path, n: int, seed: int = 0) -> float:
    """``n`` documents resampled from the shared pool, unique docids, as parquet files.

    The texts of one file are drawn once and reused by every file (with that file's own
    docids): a 5M input is 10 writes of one table, not 10 resamplings.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    start = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    pool = pq.read_table(POOL, columns=["docid", "doc", "dataset", "token_num"]).combine_chunks()
    rng = np.random.default_rng(seed)
    drawn = pool.take(pa.array(rng.integers(0, pool.num_rows, min(n, ROWS_PER_FILE))))
    for first in range(0, n, ROWS_PER_FILE):
        rows = min(ROWS_PER_FILE, n - first)
        part = drawn.slice(0, rows)
        suffix = pc.cast(pa.array(np.arange(first, first + rows)), pa.string())
        docid = pc.binary_join_element_wise(part.column("docid"), suffix, "#")
        part = part.set_column(0, "docid", docid)
        pq.write_table(part, path / f"part-{first // ROWS_PER_FILE:05d}.parquet",
                       row_group_size=ROW_GROUP_ROWS, compression="snappy")
    (path / "_COMPLETE").write_text(json.dumps({"docs": n, "seed": seed}))
    return time.perf_counter() - start


def cached_input(work: Path, n: int, fresh: bool = False) -> tuple[Path, float | None]:
    """The input of ``n`` documents under ``work/inputs`` (written when missing or asked);
    the seconds it took to write, None when it was already there."""
    path = work / "inputs" / f"docs_{n}"
    done = path / "_COMPLETE"
    if not fresh and done.is_file() and json.loads(done.read_text()).get("docs") == n:
        return path, None
    return path, generate(path, n)


def read_texts(path: Path, n: int) -> list[str]:
    """The first ``n`` texts of the input (the floor's documents)."""
    import pyarrow.parquet as pq

    out: list[str] = []
    for f in sorted(path.glob("part-*.parquet")):
        pf = pq.ParquetFile(f)
        for g in range(pf.num_row_groups):
            out += pf.read_row_group(g, columns=["doc"]).column("doc").to_pylist()
            if len(out) >= n:
                return out[:n]
    return out


# ---------------------------------------------------------------- memory sampling


def _tree(pid: int) -> list[tuple[int, str, int, float]]:
    """``(pid, name, rss bytes, cpu seconds)`` of ``pid`` and all its descendants."""
    try:
        import psutil
    except ImportError:
        return _proc_tree(pid)
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for p in procs:
        try:
            cpu = p.cpu_times()
            out.append((p.pid, p.name(), p.memory_info().rss, cpu.user + cpu.system))
        except psutil.Error:
            continue
    return out


def _proc_tree(pid: int) -> list[tuple[int, str, int, float]]:
    """The same from /proc (Linux without psutil)."""
    parents: dict[int, list[int]] = {}
    info: dict[int, tuple[str, int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/statm") as fh:
                rss_pages = int(fh.read().split()[1])
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        parents.setdefault(int(fields[1]), []).append(int(entry))
        info[int(entry)] = (name, rss_pages * os.sysconf("SC_PAGE_SIZE"),
                            (int(fields[11]) + int(fields[12])) / tick)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in info:
            out.append((p, *info[p]))
        todo += parents.get(p, [])
    return out


class TreeSampler(threading.Thread):
    """Peak RSS of a driver process, its JVM child and the Python workers under the JVM,
    and the CPU seconds the whole tree used while sampled (a load-independent cost)."""

    def __init__(self, pid: int, period: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.peak = {"driver_python": 0, "jvm": 0, "python_workers": 0}
        self.cpu_first: dict[int, float] = {}
        self.cpu_last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self.stop_flag = threading.Event()
        self._sample(initial=True)

    def _sample(self, initial: bool = False) -> None:
        now = {"driver_python": 0, "jvm": 0, "python_workers": 0}
        for pid, name, rss, cpu in _tree(self.pid):
            key = ("driver_python" if pid == self.pid else
                   "jvm" if "java" in name else "python_workers")
            now[key] += rss
            self.kind[pid] = key
            # Processes there at the start count from now; those started later, from zero.
            self.cpu_first.setdefault(pid, cpu if initial else 0.0)
            self.cpu_last[pid] = cpu
        for k, v in now.items():
            self.peak[k] = max(self.peak[k], v)

    def run(self):
        while not self.stop_flag.wait(self.period):
            self._sample()

    def stop(self) -> tuple[dict, dict]:
        """Peak RSS (MB) and CPU seconds, per kind of process."""
        self.stop_flag.set()
        self.join()
        cpu = dict.fromkeys(self.peak, 0.0)
        for p, last in self.cpu_last.items():
            cpu[self.kind[p]] += last - self.cpu_first[p]
        return ({k: round(v / 2**20) for k, v in self.peak.items()},
                {k: round(v, 1) for k, v in cpu.items()})


# ---------------------------------------------------------------- the job (child process)


def job_main(spec_file: str) -> None:
    """Run in a fresh driver process: an unreported warm-up job, then the measured job."""
    import pyarrow.parquet as pq

    from nag_spark.session import get_spark
    from nag_spark.spark.extract import ExtractOptions, run_extraction

    spec = json.loads(Path(spec_file).read_text())
    work = Path(spec["workdir"])
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{work}/mlflow.db")
    spark = get_spark("local", app_name="nag-extract-scale")
    warm = work / "warmup"
    if not (warm / "docs.parquet").is_file():
        warm.mkdir(parents=True, exist_ok=True)
        first = sorted(Path(spec["input"]).glob("part-*.parquet"))[0]
        pq.write_table(pq.ParquetFile(first).read_row_group(0).slice(0, WARMUP_DOCS),
                       warm / "docs.parquet")
    shutil.rmtree(warm / "features", ignore_errors=True)
    common = dict(model=spec["model"], dtype="float32", batch_tokens=spec["batch_tokens"])
    # Tracked too: the MLflow store (a fresh SQLite file, seconds of schema creation) exists
    # before the measured job, as it does for every job after a deployment's first.
    run_extraction(spark, ExtractOptions(input=str(warm / "docs.parquet"),
                                         output=str(warm / "features"),
                                         experiment="extract-scale-warmup", **common))
    Path(spec["result"] + ".go").write_text("")  # the parent starts sampling here
    time.sleep(0.5)
    start = time.perf_counter()
    res = run_extraction(spark, ExtractOptions(input=spec["input"], output=spec["output"],
                                               experiment="extract-scale",
                                               progress_seconds=60.0, **common))
    wall = time.perf_counter() - start
    Path(spec["result"] + ".done").write_text("")  # the parent stops sampling here
    from nag_spark.spark.extract.gpu_stage import task_slots

    slots = task_slots(spark.sparkContext)
    spark.stop()
    Path(spec["result"]).write_text(json.dumps({
        "docs": res.docs_processed, "tokens": res.tokens, "wall_s": wall,
        "run_s": res.seconds, "busy_share": res.busy_share, "units": res.units,
        "version": res.version, "task_slots": slots}))


def _wait_for(path: Path, child) -> bool:
    while not path.exists():
        if child.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def run_job(input_path: Path, output: Path, model: Path, workdir: Path, batch_tokens: int) -> dict:
    """The job in a child driver process, its process tree sampled from here."""
    result = workdir / "job_result.json"
    for p in (result, Path(f"{result}.go"), Path(f"{result}.done")):
        p.unlink(missing_ok=True)
    shutil.rmtree(output, ignore_errors=True)
    spec = workdir / "job_spec.json"
    spec.write_text(json.dumps({"input": str(input_path), "output": str(output),
                                "model": str(model), "workdir": str(workdir),
                                "result": str(result), "batch_tokens": batch_tokens}))
    child = subprocess.Popen([sys.executable, __file__, "--job", str(spec)])
    peak, cpu = {}, {}
    if _wait_for(Path(f"{result}.go"), child):
        sampler = TreeSampler(child.pid)
        sampler.start()
        _wait_for(Path(f"{result}.done"), child)
        peak, cpu = sampler.stop()
    if child.wait() != 0:
        raise SystemExit(f"the extraction job failed (exit {child.returncode})")
    out = json.loads(result.read_text())
    out["peak_rss_mb"], out["cpu_s"] = peak, cpu
    out["cpu_total_s"] = sum(cpu.values()) if cpu else float("nan")
    return out


# ---------------------------------------------------------------- the floor


def _tokenize_share(args) -> tuple[int, float, float]:
    """One floor process: tokenize its texts' prefixes; returns (docs, wall s, CPU s)."""
    model, texts, max_length, batch = args
    from transformers import AutoTokenizer

    from nag_spark.kernels.tokenize import prefix_token_ids

    tok = AutoTokenizer.from_pretrained(model)
    prefix_token_ids(tok, texts[:batch], max_length)  # warm-up outside the timing
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), batch):
        prefix_token_ids(tok, texts[i:i + batch], max_length)
    return len(texts), time.perf_counter() - start, time.process_time() - cpu


def _spawned(fn, jobs: list, env: dict) -> list:
    """``fn`` over ``jobs`` in fresh processes (one each, all at once) with ``env`` set."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # spawned processes inherit it before importing tokenizers
    try:
        with ProcessPoolExecutor(len(jobs), mp_context=mp.get_context("spawn")) as pool:
            return list(pool.map(fn, jobs))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def floor_processes(model: Path, texts: list[str], max_length: int, procs: int,
                    batch: int = 1024) -> tuple[float, float]:
    """``procs`` processes with one tokenizer thread each, on disjoint shares:
    (docs/s, docs per CPU second)."""
    shares = [(str(model), texts[i::procs], max_length, batch) for i in range(procs)]
    done = _spawned(_tokenize_share, shares, {"TOKENIZERS_PARALLELISM": "false"})
    # They ran at the same time: the slowest one's time is the wall time of the whole.
    docs = sum(d for d, _, _ in done)
    return docs / max(w for _, w, _ in done), docs / sum(c for _, _, c in done)


def floor_parallel_batch(model: Path, texts: list[str], max_length: int, threads: int,
                         batch: int = 1024) -> tuple[float, float]:
    """One process using the tokenizer's own parallel batch encode (``threads`` threads)."""
    env = {"TOKENIZERS_PARALLELISM": "true", "RAYON_NUM_THREADS": str(threads)}
    [(docs, wall, cpu)] = _spawned(_tokenize_share, [(str(model), texts, max_length, batch)], env)
    return docs / wall, docs / cpu


def _model_share(args) -> float:
    """CPU seconds per document of the model alone (prefix tokens in, NAGs out), 1 thread."""
    model, texts, max_length, batch_tokens = args
    import torch

    from nag_spark.kernels.batching import token_budget_batches
    from nag_spark.kernels.impact import NeuronImpact, left_pad
    from nag_spark.kernels.tokenize import prefix_token_ids
    from nag_spark.models import ModelSpec, load_backbone

    torch.set_num_threads(1)
    bb = load_backbone(ModelSpec(model, "hf_dir", model))
    nag = NeuronImpact(bb.model, ["fwd_up"], 20)
    tokens = prefix_token_ids(bb.tokenizer, texts, max_length)
    batches = token_budget_batches([len(t) for t in tokens], batch_tokens)
    nag.top_k(*left_pad([tokens[i] for i in batches[0]], bb.pad_id))  # warm-up
    cpu = time.process_time()
    for rows in batches:
        nag.top_k(*left_pad([tokens[i] for i in rows], bb.pad_id))
    return (time.process_time() - cpu) / len(texts)


def measure_floor(model: Path, input_path: Path, n: int, cores: int, batch_tokens: int,
                  max_length: int = 120) -> dict:
    """The floor's docs/s (the faster of the two ways) and the model's own cost per doc."""
    texts = read_texts(input_path, n)
    two, two_cpu = floor_processes(model, texts, max_length, cores)
    batch, batch_cpu = floor_parallel_batch(model, texts, max_length, cores)
    best = "processes" if two >= batch else "parallel_batch"
    [model_s] = _spawned(_model_share, [(str(model), texts[:10_000], max_length, batch_tokens)],
                         {"TOKENIZERS_PARALLELISM": "false"})
    return {"floor_docs": len(texts), "floor_processes_docs_per_s": round(two, 1),
            "floor_parallel_batch_docs_per_s": round(batch, 1), "floor_mode": best,
            "floor_docs_per_s": round(max(two, batch), 1),
            "floor_processes_docs_per_cpu_s": round(two_cpu, 1),
            "floor_parallel_batch_docs_per_cpu_s": round(batch_cpu, 1),
            "floor_docs_per_cpu_s": round(two_cpu if best == "processes" else batch_cpu, 1),
            "model_alone_us_per_doc": round(model_s * 1e6, 1)}


# ---------------------------------------------------------------- main


def summarize(rows: list[dict]) -> dict:
    base = rows[0]
    return {
        "job_over_floor": {r["docs"]: r["job_over_floor"] for r in rows},
        "job_over_floor_cpu": {r["docs"]: r["job_over_floor_cpu"] for r in rows},
        "docs_per_s_vs_smallest": {r["docs"]: round(r["docs_per_s"] / base["docs_per_s"], 3)
                                   for r in rows},
        "docs_per_cpu_s_vs_smallest": {
            r["docs"]: round(r["docs_per_cpu_s"] / base["docs_per_cpu_s"], 3) for r in rows},
        "driver_python_peak_mb": {r["docs"]: r["peak_rss_mb"].get("driver_python") for r in rows},
        "jvm_peak_mb": {r["docs"]: r["peak_rss_mb"].get("jvm") for r in rows},
        "busy_share": {r["docs"]: r["busy_share"] for r in rows},
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def one_size(n: int, work: Path, model: Path, args, cores: int) -> dict:
    """Generate (or reuse) the input, run the job, measure the floor beside it; one row."""
    output = work / f"features_{n}"
    data, gen_s = cached_input(work, n, args.fresh_inputs)
    load = {"before_job": _load()}
    job = run_job(data, output, model, work, args.batch_tokens)
    load["after_job"] = _load()
    floor = measure_floor(model, data, min(n, parse_size(args.floor_docs)), cores,
                          args.batch_tokens)
    load["after_floor"] = _load()
    rate = job["docs"] / job["wall_s"]
    per_cpu = job["docs"] / job["cpu_total_s"]
    row = {"docs": n, "generate_s": None if gen_s is None else round(gen_s, 1),
           "load_avg_1_5_15": load, "job_wall_s": round(job["wall_s"], 1),
           "docs_per_s": round(rate, 1), "docs_per_s_per_core": round(rate / cores, 1),
           "docs_per_cpu_s": round(per_cpu, 1), "cpu_s": job["cpu_s"], "busy_share": round(job["busy_share"], 4),
           "units": job["units"], "task_slots": job["task_slots"], "peak_rss_mb": job["peak_rss_mb"], **floor,
           "job_over_floor": round(rate / floor["floor_docs_per_s"], 3),
           "job_over_floor_cpu": round(per_cpu / floor["floor_docs_per_cpu_s"], 3)}
    if job["docs"] != n:
        row["error"] = f"{job['docs']} documents extracted, {n} expected"
    if not args.keep:
        shutil.rmtree(output, ignore_errors=True)  # the input stays cached for later runs
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100k,1M,5M", help="documents per run (k, M suffixes)")
    p.add_argument("--workdir", default="/tmp/nag-extract-scale")
    p.add_argument("--batch-tokens", type=int, default=4096,
                   help="padded tokens per forward pass (the library default)")
    p.add_argument("--floor-docs", default="50k", help="documents the floor tokenizes per size")
    p.add_argument("--keep", action="store_true", help="keep each size's features table")
    p.add_argument("--fresh-inputs", action="store_true",
                   help="write the inputs again even when <workdir>/inputs has them")
    p.add_argument("--json", help="the results so far, rewritten after every size "
                                  "(default <workdir>/extract_scale.json)")
    p.add_argument("--job", help=argparse.SUPPRESS)  # internal: the child driver's spec file
    args = p.parse_args(argv)
    if args.job:
        job_main(args.job)
        return 0
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    model = build_model(work / "model")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    results = Path(args.json) if args.json else work / "extract_scale.json"
    rows = []
    for n in [parse_size(s) for s in args.sizes.split(",")]:
        row = one_size(n, work, model, args, cores)
        print(json.dumps(row), flush=True)
        rows.append(row)
        results.write_text(json.dumps({"runs": rows, "summary": summarize(rows)}, indent=1))
    print(json.dumps({"summary": summarize(rows)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
