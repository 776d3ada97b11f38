"""Spark's real GPU scheduling with fake GPUs: ``local-cluster`` with one worker whose GPUs
come from the shipped discovery script (a fake ``nvidia-smi`` on PATH, remapped
``CUDA_VISIBLE_DEVICES``), and the extraction stage's task resource profile.

Prints one ``TASK <item> <address> <ordinal> <start> <end>`` line per task of the profiled
stage and ``DEFAULT <addresses>`` for a stage of the default profile.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from nag_spark.resources import discovery_script  # noqa: E402
from nag_spark.session import get_spark  # noqa: E402


def work(item):
    from nag_spark.models.device import cuda_ordinal, task_gpu_address

    start = time.time()
    time.sleep(1.0)  # long enough for overlapping tasks to show
    address = task_gpu_address()
    return item, address, cuda_ordinal(address), start, time.time()


def main() -> None:
    from nag_spark.spark.extract.gpu_stage import ExtractionStage

    script = str(discovery_script())
    spark = get_spark("local", app_name="gpu-profile-test", overrides={
        "spark.master": "local-cluster[1,4,1024]", "spark.driver.memory": "1g",
        "spark.executor.memory": "1g", "spark.executor.cores": "4",
        "spark.worker.resource.gpu.amount": "2", "spark.worker.resource.gpu.discoveryScript": script,
        "spark.executor.resource.gpu.amount": "2", "spark.executor.resource.gpu.discoveryScript": script,
        "spark.task.resource.gpu.amount": "0.5",
    })
    sc = spark.sparkContext
    deadline = time.time() + 120
    while sc._jsc.sc().getExecutorMemoryStatus().size() < 2 and time.time() < deadline:
        time.sleep(0.5)
    stage = ExtractionStage(gpus=1.0, cpus=1)
    for item, address, ordinal, start, end in stage.collect(sc, list(range(4)), work):
        print(f"TASK {item} {address} {ordinal} {start:.3f} {end:.3f}", flush=True)

    def default(_):
        from nag_spark.models.device import task_gpu_address
        return task_gpu_address()
    print("DEFAULT " + ",".join(sorted(set(sc.parallelize(range(8), 8).map(default).collect()))))
    spark.stop()


if __name__ == "__main__":
    main()
