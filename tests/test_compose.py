"""docker/compose.yaml: valid Compose, and consistent with the images it runs.

Docker cannot run here, so the file is checked as data: against the Compose specification
(the ``compose-spec`` package's parser and validators: unknown keys, wrong types, undefined
configs), for references (volumes, services) and against the images (docker/Dockerfile,
Dockerfile.gpu, Dockerfile.mlflow, entrypoint.sh) and setup.cfg: the same paths, the
same variables, the same pins.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker" / "compose.yaml"
SPARK_SERVICES = ("spark-master", "spark-worker-1", "spark-worker-2", "spark-worker-gpu", "submit")


@pytest.fixture(scope="module")
def compose() -> dict:
    from compose_spec import PyCompose
    from compose_spec.compose_spec import PyOptions

    parsed = PyCompose(PyOptions(apply_merge=True).from_yaml(COMPOSE.read_text()))
    for check in (parsed.validate, parsed.validate_volumes, parsed.validate_configs,
                  parsed.validate_networks, parsed.validate_secrets):
        check()
    return parsed.to_dict()


def test_the_validator_rejects_what_docker_compose_would():
    from compose_spec.compose_spec import PyOptions

    text = COMPOSE.read_text()
    for broken in (text.replace("hostname: submit", "hostnme: submit"),
                   text.replace('"5000:5000"', "{bad: 1}"),
                   text.replace("- source: spark-defaults", "- source: undefined-config")):
        with pytest.raises(ValueError):
            from compose_spec import PyCompose

            parsed = PyCompose(PyOptions(apply_merge=True).from_yaml(broken))
            parsed.validate()
            parsed.validate_configs()


def _volumes(service: dict) -> dict[str, str]:
    return dict(v.split(":", 1) for v in service.get("volumes", []))


def test_references_resolve(compose):
    services, volumes = compose["services"], set(compose.get("volumes") or {})
    for name, svc in services.items():
        for source in _volumes(svc):
            assert source.startswith((".", "/")) or source in volumes, (name, source)
        deps = svc.get("depends_on") or {}
        assert set(deps) <= set(services), (name, deps)
        build = svc.get("build")
        if build:
            assert build["context"] == ".." and (REPO / build["dockerfile"]).is_file(), (name, build)


def test_the_services_a_cluster_needs(compose):
    s = compose["services"]
    assert set(SPARK_SERVICES) | {"postgres", "mlflow"} <= set(s)
    master = s["spark-master"]["command"]
    url = f"spark://{master[master.index('--host') + 1]}:{master[master.index('--port') + 1]}"
    for name in ("spark-worker-1", "spark-worker-2", "spark-worker-gpu"):
        assert s[name]["command"][:2] == ["worker", url], name
    assert "profiles" not in s["spark-worker-1"] and "profiles" not in s["spark-worker-2"]
    gpu = s["spark-worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["environment"]["NAG_WORKER_GPUS"] == "1"
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["build"]["dockerfile"] == "docker/Dockerfile.gpu"
    defaults = next(c["content"] for n, c in compose["configs"].items() if n == "spark-defaults")
    assert re.search(rf"^spark\.master\s+{re.escape(url)}$", defaults, re.M)
    conf_dir = s["submit"]["environment"]["SPARK_CONF_DIR"]
    assert s["submit"]["configs"][0]["target"] == f"{conf_dir}/spark-defaults.conf"


def test_every_spark_service_shares_the_data_and_cache_volumes(compose):
    dockerfile_gpu = (REPO / "docker" / "Dockerfile.gpu").read_text()
    cache = re.search(r'VOLUME \["([^"]+)"\]', dockerfile_gpu).group(1)
    mounts = {name: _volumes(compose["services"][name]) for name in SPARK_SERVICES}
    for name, vols in mounts.items():
        assert vols.get("nag-data") == "/data" and vols.get("nag-cache") == cache, (name, vols)


def test_environment_matches_the_images_and_the_code(compose):
    images = {f: (REPO / "docker" / f).read_text() for f in ("Dockerfile", "Dockerfile.gpu")}
    entry = (REPO / "docker" / "entrypoint.sh").read_text()
    for name in SPARK_SERVICES:
        svc = compose["services"][name]
        image = images["Dockerfile.gpu" if "gpu" in svc["build"]["dockerfile"] else "Dockerfile"]
        for key, value in svc["environment"].items():
            baked = re.search(rf"\b{key}=(\S+)", image)
            if baked:  # the same value as the image sets
                assert baked.group(1) == value, (name, key, value, baked.group(1))
            elif key.startswith("NAG_"):
                assert key in entry, f"{name}: {key} is read by neither the image nor entrypoint.sh"
        first = svc.get("command", ["<spark-submit>"])[0]
        assert first == "<spark-submit>" or re.search(rf"^\s+{first}\)", entry, re.M), (name, first)
    from nag_spark.config import conf_dir  # noqa: F401  (NAG_SPARK_CONF_DIR is read there)
    assert "NAG_SPARK_CONF_DIR" in (REPO / "nag_spark" / "config.py").read_text()


def test_mlflow_runs_on_postgres_with_an_artifact_store(compose):
    s = compose["services"]
    pg, mlflow = s["postgres"]["environment"], s["mlflow"]
    args = dict(a.lstrip("-").split("=", 1) for a in mlflow["command"] if "=" in a)
    user, password, host, db = re.fullmatch(r"postgresql\+psycopg2://(\w+):(\w+)@([\w-]+):5432/(\w+)",
                                            args["backend-store-uri"]).groups()
    assert (user, password, db) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"])
    assert host == "postgres" and mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--serve-artifacts" in mlflow["command"]
    assert args["artifacts-destination"] in _volumes(mlflow).values()
    port = args["port"]
    for name in SPARK_SERVICES:
        assert s[name]["environment"]["MLFLOW_TRACKING_URI"] == f"http://mlflow:{port}", name
    pinned = re.search(r"^\s*mlflow==([\w.]+)\s*$", (REPO / "setup.cfg").read_text(), re.M).group(1)
    dockerfile = (REPO / mlflow["build"]["dockerfile"]).read_text()
    assert f"ARG MLFLOW_VERSION={pinned}" in dockerfile and "psycopg2" in dockerfile
    assert yaml.safe_load(COMPOSE.read_text())["name"] == "nag-spark"
