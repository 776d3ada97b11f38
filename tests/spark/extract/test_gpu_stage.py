"""How the extraction stage asks Spark for GPUs (:mod:`nag_spark.spark.extract.gpu_stage`),
checked without a GPU: the decision, the local one-task-per-GPU stage on real local Spark,
and Spark's real GPU scheduling on ``local-cluster`` with GPUs that a fake ``nvidia-smi``
reports to the shipped discovery script (the CUDA side itself needs a GPU run).
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from conftest import run_job
from nag_spark.spark.extract import gpu_stage
from nag_spark.spark.extract.gpu_stage import ExtractionStage, extraction_stage


def fake_sc(master):
    return SimpleNamespace(master=master, getConf=lambda: SimpleNamespace(getAll=lambda: []))


def test_the_stage_follows_the_plan(monkeypatch):
    gpu, cpu = SimpleNamespace(device_kind="cuda"), SimpleNamespace(device_kind="cpu")
    conf = {"spark.nag.extract.stage_gpus": "1", "spark.nag.extract.stage_cpus": "8"}
    monkeypatch.setattr(gpu_stage, "local_gpu_count", lambda: 2)
    assert extraction_stage(fake_sc("local[*]"), cpu, conf) == ExtractionStage()
    assert extraction_stage(fake_sc("local[16]"), gpu, conf) == ExtractionStage(local_gpus=2, slots=2)
    pinned = SimpleNamespace(device_kind="cuda", device="cuda:1")  # every task on one GPU
    assert extraction_stage(fake_sc("local[16]"), pinned, conf) == ExtractionStage(local_gpus=1, slots=1)
    stage = extraction_stage(fake_sc("spark://m:7077"), gpu, conf)
    assert stage == ExtractionStage(gpus=1.0, cpus=8)
    requests = stage.profile().taskResources
    assert requests["gpu"].amount == 1.0 and requests["cpus"].amount == 8
    assert extraction_stage(fake_sc("local-cluster[2,1,1024]"), gpu, conf).gpus == 1.0
    assert extraction_stage(fake_sc("yarn"), gpu, {}) == ExtractionStage()  # no profile asked
    monkeypatch.setattr(gpu_stage, "local_gpu_count", lambda: 0)
    assert extraction_stage(fake_sc("local[*]"), gpu, conf) == ExtractionStage()
    assert gpu_stage.gpu_batch_tokens(None, {"spark.nag.extract.gpu_batch_tokens": "65536"}, 1) == 65536
    with pytest.raises(Exception, match="spark.nag.extract.stage_gpus must be a number"):
        gpu_stage.stage_gpus({"spark.nag.extract.stage_gpus": "one"})


def test_local_mode_runs_one_task_per_gpu(spark):
    """Local mode on 2 GPUs: 2 tasks whatever the core count, task i told it is slot i."""
    from nag_spark.models.device import LOCAL_GPU_SLOTS

    def probe(item):
        from pyspark import TaskContext

        from nag_spark.models.device import local_gpu_slot
        return item, TaskContext.get().partitionId(), local_gpu_slot()

    sc = spark.sparkContext
    out = ExtractionStage(local_gpus=2, slots=2).collect(sc, list(range(5)), probe)
    assert [o[0] for o in out] == list(range(5))  # every unit once, in order
    assert {o[1] for o in out} == {0, 1} and all(o[2] == o[1] for o in out)
    assert sc.getLocalProperty(LOCAL_GPU_SLOTS) is None  # cleared for later jobs


def test_spark_schedules_the_stage_on_discovered_gpus(tmp_path):
    """4 GPUs in the fake nvidia-smi, CUDA_VISIBLE_DEVICES=2,3: the worker offers 2, each
    profiled task gets a whole one (never two tasks on one GPU at once), and the worker-side
    mapping turns addresses 2 and 3 into CUDA devices 0 and 1."""
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\nprintf '0, GPU-a\\n1, GPU-b\\n2, GPU-c\\n3, GPU-d\\n'\n")
    smi.chmod(0o755)
    env = {"PATH": f"{smi.parent}{os.pathsep}{os.environ['PATH']}", "CUDA_VISIBLE_DEVICES": "2,3"}
    proc = run_job(["tests/spark/extract/scripts/gpu_profile_job.py"], env=env, timeout=300)
    tasks = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("TASK ")]
    assert sorted(int(t[0]) for t in tasks) == [0, 1, 2, 3], proc.stdout + proc.stderr[-3000:]
    assert {(t[1], t[2]) for t in tasks} <= {("2", "0"), ("3", "1")}
    for gpu in ("2", "3"):
        spans = sorted((float(t[3]), float(t[4])) for t in tasks if t[1] == gpu)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), (gpu, spans)
    assert "DEFAULT 2,3" in proc.stdout  # default-profile tasks share the GPUs (0.5 each)


def test_task_slots_read_the_master_not_the_partition_count(monkeypatch):
    """The local profile sets spark.default.parallelism=8 on any machine: slots come from
    the master (busy share and unit sizes depend on them)."""
    import os
    from types import SimpleNamespace

    from nag_spark.spark.extract.gpu_stage import task_slots

    def sc(master, **conf):
        return SimpleNamespace(master=master, defaultParallelism=8,
                               getConf=lambda: SimpleNamespace(get=lambda k, d=None: conf.get(k, d)))

    assert task_slots(sc("local")) == 1
    assert task_slots(sc("local[2]")) == 2 and task_slots(sc("local[3,4]")) == 3
    assert task_slots(sc("local[*]")) == (os.cpu_count() or 1)
    assert task_slots(sc("local-cluster[2,1,1024]")) == 2
    assert task_slots(sc("local-cluster[2,4,1024]", **{"spark.task.cpus": "2"})) == 4
