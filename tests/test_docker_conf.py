"""The GPU image, its entrypoint and the cluster profiles agree with each other and with the
code (Docker cannot run here: the files are checked as text, the scripts are run).

- every path the profiles and the entrypoint name exists in the image layout;
- the image pins the torch that setup.cfg pins;
- every ``spark.nag.*`` key in a profile is a setting the code reads;
- the discovery script prints what Spark expects; the entrypoint starts the right JVM for a
  Kubernetes executor pod (with a fake ``java`` that prints its arguments).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
IMAGE_HOME = "/opt/nag-spark"
DOCKERFILE = (REPO / "docker" / "Dockerfile.gpu").read_text()


def _profile(name):
    return yaml.safe_load((REPO / "conf" / f"{name}.yaml").read_text())


def _image_path_to_repo(path: str) -> Path:
    assert path.startswith(IMAGE_HOME + "/"), path
    return REPO / path[len(IMAGE_HOME) + 1:]


def test_the_image_layout_holds_what_the_profile_names():
    assert f"WORKDIR {IMAGE_HOME}" in DOCKERFILE
    for copied in ("nag_spark", "conf", "jobs"):
        assert f"COPY {copied} ./{copied}" in DOCKERFILE
    script = _profile("cluster-gpu")["spark"]["spark.executor.resource.gpu.discoveryScript"]
    assert _image_path_to_repo(script).is_file() and os.access(_image_path_to_repo(script), os.X_OK)
    assert f"NAG_GPU_DISCOVERY={script}" in DOCKERFILE and f"chmod 0755" in DOCKERFILE
    entry = (REPO / "docker" / "entrypoint.sh").read_text()
    assert f'NAG_GPU_DISCOVERY:-{script}' in entry
    assert "COPY docker/entrypoint.sh /opt/nag-spark/entrypoint.sh" in DOCKERFILE
    assert os.access(REPO / "docker" / "entrypoint.sh", os.X_OK)


def test_the_image_pins_the_torch_of_setup_cfg_and_sets_the_cache_env():
    pinned = re.search(r"^\s*torch==([\w.]+)\s*$", (REPO / "setup.cfg").read_text(), re.M).group(1)
    assert re.search(rf"ARG TORCH_VERSION={re.escape(pinned)}\b", DOCKERFILE)
    assert "download.pytorch.org/whl/${TORCH_CUDA}" in DOCKERFILE
    # The env names are the ones the code reads (nag_setting's NAG_<KEY> rule, torch, numba).
    from nag_spark.config import nag_setting

    os.environ["NAG_MODEL_CACHE_DIR"], saved = "/probe", os.environ.get("NAG_MODEL_CACHE_DIR")
    try:
        assert nag_setting({}, "model.cache_dir") == "/probe"
    finally:
        os.environ.pop("NAG_MODEL_CACHE_DIR") if saved is None else os.environ.update(
            NAG_MODEL_CACHE_DIR=saved)
    volume = re.search(r'VOLUME \["([^"]+)"\]', DOCKERFILE).group(1)
    for name in ("NAG_MODEL_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "NUMBA_CACHE_DIR", "HF_HOME"):
        value = re.search(rf"{name}=(\S+)", DOCKERFILE).group(1)
        assert value.startswith(volume + "/"), (name, value)
    assert re.search(r"NAG_SPARK_CONF_DIR=/opt/nag-spark/conf\b", DOCKERFILE)


def _string_literals_of_the_code() -> set[str]:
    import ast

    out = set()
    for path in (REPO / "nag_spark").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    return out


@pytest.mark.parametrize("name", ["cluster-gpu", "databricks", "local"])
def test_profile_settings_are_read_by_the_code(name):
    # A setting the code reads is spelled there as a literal key (nag_setting's argument).
    keys = _string_literals_of_the_code()
    unknown = sorted(k for k in (_profile(name).get("nag") or {}) if k not in keys)
    assert not unknown, f"conf/{name}.yaml sets nag settings no code reads: {unknown}"


def test_cluster_gpu_profile_is_what_a_gpu_cluster_needs():
    spark, nag = _profile("cluster-gpu")["spark"], _profile("cluster-gpu")["nag"]
    assert spark["spark.executor.resource.gpu.vendor"] == "nvidia.com"
    assert int(spark["spark.executor.resource.gpu.amount"]) == 1
    # Default stages: one slot per core sharing the GPU; the extraction stage: a whole GPU
    # and all the executor's cores (tokenization).
    cores = int(spark["spark.executor.cores"])
    assert float(spark["spark.task.resource.gpu.amount"]) * cores == 1.0
    assert float(nag["extract.stage_gpus"]) == 1 and int(nag["extract.stage_cpus"]) == cores
    assert spark["spark.dynamicAllocation.enabled"] == "false"  # task profiles need it off
    assert int(spark["spark.executor.memoryOverhead"].rstrip("g")) >= 8
    from nag_spark.kernels.fusion import check_fusion

    check_fusion(nag["extract.fusion"])


def _fake_smi(tmp_path):
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir(exist_ok=True)
    smi.write_text("#!/bin/sh\nprintf '0, GPU-aa\\n1, GPU-bb\\n2, GPU-cc\\n'\n")
    smi.chmod(0o755)
    return smi.parent


@pytest.mark.parametrize("visible, expected", [
    (None, ["0", "1", "2"]), ("2,0", ["2", "0"]), ("GPU-bb", ["GPU-bb"]), ("", []),
    ("MIG-x", ["MIG-x"])])
def test_the_discovery_script_prints_what_spark_reads(tmp_path, visible, expected):
    from nag_spark.resources import discovery_script

    env = dict(os.environ, PATH=f"{_fake_smi(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    out = subprocess.run([str(discovery_script())], env=env, capture_output=True, text=True,
                         check=True, timeout=30)
    assert json.loads(out.stdout) == {"name": "gpu", "addresses": expected}


def test_the_discovery_script_without_nvidia_smi_reports_no_gpu(tmp_path):
    from nag_spark.resources import discovery_script

    env = dict(os.environ, NAG_NVIDIA_SMI=str(tmp_path / "missing"))
    out = subprocess.run([str(discovery_script())], env=env, capture_output=True, text=True,
                         check=True, timeout=30)
    assert json.loads(out.stdout)["addresses"] == [] and "reporting no GPU" in out.stderr


def _fake_bin(tmp_path, name):
    path = tmp_path / "fake" / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    path.chmod(0o755)
    return path


def test_the_entrypoint_starts_kubernetes_executors_and_submits(tmp_path):
    _fake_bin(tmp_path, "java")
    _fake_bin(tmp_path, "spark-submit")
    env = dict(os.environ, JAVA_HOME=str(tmp_path / "fake"), SPARK_HOME=str(tmp_path / "fake"),
               SPARK_EXECUTOR_MEMORY="4g", SPARK_DRIVER_URL="spark://CoarseGrainedScheduler@d:7078",
               SPARK_EXECUTOR_ID="3", SPARK_EXECUTOR_CORES="8", SPARK_APPLICATION_ID="spark-1",
               SPARK_EXECUTOR_POD_IP="10.0.0.5", SPARK_RESOURCE_PROFILE_ID="1",
               SPARK_EXECUTOR_POD_NAME="pod-3", SPARK_JAVA_OPT_1="-Dspark.b=2",
               SPARK_JAVA_OPT_0="-Dspark.a=1", SPARK_JAVA_OPT_10="-Dspark.c=3")
    entry = str(REPO / "docker" / "entrypoint.sh")
    run = subprocess.run([entry, "executor"], env=env, capture_output=True, text=True,
                         check=True, timeout=30)
    args = run.stdout.split("\n")
    assert args[:5] == ["-Dspark.a=1", "-Dspark.b=2", "-Dspark.c=3", "-Xms4g", "-Xmx4g"]
    assert "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend" in args
    for flag, value in [("--executor-id", "3"), ("--cores", "8"), ("--hostname", "10.0.0.5"),
                        ("--resourceProfileId", "1"), ("--podName", "pod-3"),
                        ("--driver-url", "spark://CoarseGrainedScheduler@d:7078")]:
        assert args[args.index(flag) + 1] == value
    assert args[args.index("-cp") + 1].endswith("/jars/*")
    run = subprocess.run([entry, "jobs/extract.py", "--input", "x"], env=env,
                         capture_output=True, text=True, check=True, timeout=30)
    assert run.stdout.split() == ["jobs/extract.py", "--input", "x"]  # spark-submit's args
    run = subprocess.run([entry, "driver", "--class", "X"], env=env, capture_output=True,
                         text=True, check=True, timeout=30)
    assert "--deploy-mode" in run.stdout and "client" in run.stdout
