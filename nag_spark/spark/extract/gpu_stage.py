"""How the extraction stage asks Spark for GPUs: a stage-level profile, or one task per GPU.

On a cluster (standalone, YARN, Kubernetes, Databricks), ``spark.nag.extract.stage_gpus``
(``conf/cluster-gpu.yaml``: 1) makes the extraction stage, and only it, run under a
PySpark ``TaskResourceProfile``: each task asks for that many GPUs and
``spark.nag.extract.stage_cpus`` cores (tokenization runs on them, beside the model), while
every other stage of the application (ranking, Delta scans) keeps the default profile and
all its CPU slots. Spark supports task resource profiles on standalone, YARN and
Kubernetes with dynamic allocation off; executors still need their GPUs in the
application's conf (``spark.executor.resource.gpu.*``).

In local mode Spark schedules no GPUs: ``local[*]`` on an 8-core machine with one GPU
would run 8 tasks, each Python worker loading its own model onto device 0, each with an
eighth of the work per batch. Instead, when the job is planned for GPUs, the stage gets
one partition per visible GPU, each task runs its share of the work units one after the
other (each unit still commits on its own), and task ``i`` runs on ``cuda:i`` (the local
property :data:`~nag_spark.models.device.LOCAL_GPU_SLOTS` tells the worker). CPU jobs are
not changed: one task per unit.
"""
from __future__ import annotations

import os

from dataclasses import dataclass
from typing import Callable, Mapping

from ...config import nag_setting
from ...errors import ConfigError
from ...logs import get_logger
from ...models.device import LOCAL_GPU_SLOTS, local_gpu_count

log = get_logger(__name__)

#: Padded tokens per forward batch on a GPU when ``--batch-tokens`` is not given.
DEFAULT_GPU_BATCH_TOKENS = 32768


def _number(conf, key: str, cast=float):
    value = nag_setting(conf, key)
    if value in (None, ""):
        return cast(0)
    try:
        number = cast(value)
    except ValueError:
        raise ConfigError(f"spark.nag.{key} must be a number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"spark.nag.{key} must not be negative, got {value!r}")
    return number


def stage_gpus(conf: Mapping[str, str] | None) -> float:
    """GPUs per extraction task of the stage-level profile; 0 when there is none.

    >>> stage_gpus({"spark.nag.extract.stage_gpus": "1"}), stage_gpus({})
    (1.0, 0.0)
    """
    return _number(conf, "extract.stage_gpus")


def gpu_batch_tokens(given: int | None, conf: Mapping[str, str] | None, fallback: int) -> int:
    """Batch tokens of GPU workers: ``--batch-tokens`` when given (already validated as
    ``fallback``), else ``spark.nag.extract.gpu_batch_tokens``, else 32768.

    >>> gpu_batch_tokens(None, {}, 1024), gpu_batch_tokens(2048, {}, 2048)
    (32768, 2048)
    """
    if given is not None:
        return fallback
    value = _number(conf, "extract.gpu_batch_tokens", int)
    return value if value > 0 else DEFAULT_GPU_BATCH_TOKENS


def local_cpus_per_gpu() -> int:
    """Cores for each GPU's task in local mode (its tokenizer threads)."""
    import os

    return max(1, (os.cpu_count() or 1) // max(1, local_gpu_count()))


def _is_local(master: str) -> bool:
    return master.startswith("local") and not master.startswith("local-cluster")


@dataclass(frozen=True)
class ExtractionStage:
    """How the extraction job is submitted.

    Attributes
    ----------
    local_gpus : int
        Local mode on GPUs: partitions (= concurrent tasks), one per GPU; 0 otherwise.
    gpus, cpus : float, int
        The stage-level task resources (0: no profile).
    slots : int or None
        Task slots the stage can use (for the busy share); None: Spark's default.
    """

    local_gpus: int = 0
    gpus: float = 0.0
    cpus: int = 0
    slots: int | None = None

    def profile(self):
        """The PySpark ResourceProfile of the stage (None without one)."""
        if self.gpus <= 0:
            return None
        from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests

        requests = TaskResourceRequests().resource("gpu", self.gpus)
        if self.cpus > 0:
            requests = requests.cpus(self.cpus)
        return ResourceProfileBuilder().require(requests).build

    def collect(self, sc, items: list, fn: Callable):
        """Run ``fn`` on every item as this stage and return the results, in order."""
        if self.local_gpus:
            sc.setLocalProperty(LOCAL_GPU_SLOTS, str(self.local_gpus))
            try:
                rdd = sc.parallelize(items, min(len(items), self.local_gpus))
                return rdd.mapPartitions(lambda part: [fn(item) for item in part]).collect()
            finally:
                sc.setLocalProperty(LOCAL_GPU_SLOTS, None)
        rdd = sc.parallelize(items, len(items)).map(fn)
        profile = self.profile()
        if profile is not None:
            rdd = rdd.withResources(profile)
        return rdd.collect()


def extraction_stage(sc, config, conf: Mapping[str, str] | None = None) -> ExtractionStage:
    """Decide the stage for a job planned on ``config.device_kind`` (see the module doc)."""
    conf = dict(sc.getConf().getAll()) if conf is None else conf
    kind = getattr(config, "device_kind", "")
    if kind != "cuda":
        return ExtractionStage()
    if _is_local(sc.master):
        # An explicit cuda:N puts every task on that one GPU: then one task in all.
        explicit = str(getattr(config, "device", "")).startswith("cuda:")
        gpus = min(1, local_gpu_count()) if explicit else local_gpu_count()
        if gpus:
            log.info("local mode on %d GPU(s): the extraction stage runs one task per GPU", gpus)
            return ExtractionStage(local_gpus=gpus, slots=gpus)
        return ExtractionStage()
    gpus = stage_gpus(conf)
    if gpus <= 0:
        return ExtractionStage()
    cpus = _number(conf, "extract.stage_cpus", int)
    return ExtractionStage(gpus=gpus, cpus=cpus)


def task_slots(sc) -> int:
    """How many tasks the cluster runs at once (``spark.default.parallelism`` is a partition
    count, not that: our local profile sets it to 8 on any machine).

    ``local``: 1; ``local[N]`` / ``local[N,F]``: N; ``local[*]``: the cores;
    ``local-cluster[W,C,M]``: W × C / task cpus; a cluster: its executors' cores / task cpus
    (Spark's default parallelism when that is not known yet).
    """
    import re

    conf = sc.getConf()
    task_cpus = max(1, int(conf.get("spark.task.cpus", "1") or 1))
    master = sc.master
    local = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master)
    if local:
        n = local.group(1)
        return 1 if n is None else (os.cpu_count() or 1) if n == "*" else int(n)
    cluster = re.fullmatch(r"local-cluster\[(\d+),\s*(\d+),\s*\d+\]", master)
    if cluster:
        return max(1, int(cluster.group(1)) * int(cluster.group(2)) // task_cpus)
    try:
        executors = sc._jsc.sc().getExecutorMemoryStatus().size() - 1  # minus the driver
        cores = int(conf.get("spark.executor.cores", "0") or 0)
        if executors > 0 and cores > 0:
            return max(1, executors * cores // task_cpus)
    except Exception:  # noqa: BLE001 - not every deployment exposes it
        pass
    return max(1, sc.defaultParallelism)
