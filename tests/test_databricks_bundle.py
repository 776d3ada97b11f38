"""databricks.yml: a valid asset bundle whose job runs the pipeline the jobs can parse.

No workspace is reachable here, so the bundle is checked offline: its job against the
bundle schema's ``Job`` model in ``databricks-bundles`` (generated from the schema the
Databricks CLI validates with; unknown fields and wrong types are refused), its top level
against the fields the bundle documentation lists, and every task's arguments with the
argparse of the ``jobs/*.py`` script it names.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BUNDLE = yaml.safe_load((REPO / "databricks.yml").read_text())
# Top-level mappings of a bundle configuration (docs: "Databricks Asset Bundle configuration").
TOP_LEVEL = {"bundle", "include", "variables", "artifacts", "resources", "targets", "workspace",
             "sync", "permissions", "run_as", "presets", "experimental", "scripts", "python"}
JOB = BUNDLE["resources"]["jobs"]["nag_pipeline"]
TASKS = {t["task_key"]: t for t in JOB["tasks"]}


def test_the_job_matches_the_bundle_schema():
    from databricks.bundles.jobs import Job

    job = Job.from_dict(JOB)
    assert [t.task_key for t in job.tasks] == list(TASKS)
    with pytest.raises(ValueError, match="Unexpected field"):
        Job.from_dict({**JOB, "tasks": [{**JOB["tasks"][0], "python_file": "x.py"}]})


def test_top_level_fields_and_variables_are_declared():
    assert set(BUNDLE) <= TOP_LEVEL and BUNDLE["bundle"]["name"]
    used = set(re.findall(r"\$\{var\.(\w+)\}", (REPO / "databricks.yml").read_text()))
    assert used and used <= set(BUNDLE["variables"]), used - set(BUNDLE["variables"])
    assert any(t.get("default") for t in BUNDLE["targets"].values())


def test_the_pipeline_shape():
    ranks = sorted(k for k in TASKS if k.startswith("rank_"))
    assert {"extract_targets", "extract_pool", "compare"} | set(ranks) == set(TASKS) and ranks
    targets = yaml.safe_load((REPO / "conf" / "targets.yaml").read_text())["targets"]
    for key in ranks:
        args = TASKS[key]["spark_python_task"]["parameters"]
        assert args[args.index("--target") + 1] == key[len("rank_"):] in targets
        assert {d["task_key"] for d in TASKS[key]["depends_on"]} == {"extract_targets", "extract_pool"}
    assert {d["task_key"] for d in TASKS["compare"]["depends_on"]} == set(ranks)
    compare = TASKS["compare"]["spark_python_task"]["parameters"]
    assert int(compare[compare.index("--last") + 1]) == len(ranks)


def test_gpu_cluster_for_extraction_cpu_cluster_for_the_rest():
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in JOB["job_clusters"]}
    variables = BUNDLE["variables"]

    def resolved(value):
        m = re.fullmatch(r"\$\{var\.(\w+)\}", str(value))
        return variables[m.group(1)]["default"] if m else value

    assert "gpu" in resolved(clusters["gpu"]["spark_version"])
    assert "gpu" not in resolved(clusters["cpu"]["spark_version"])
    for key, task in TASKS.items():
        assert task["job_cluster_key"] == ("gpu" if key.startswith("extract_") else "cpu"), key
    for c in clusters.values():  # Spark 4 runtimes (pyspark 4.x), dedicated access mode
        assert int(resolved(c["spark_version"]).split(".")[0]) >= 17
        assert c["data_security_mode"] == "SINGLE_USER"


def test_the_wheel_is_every_task_library():
    (artifact,) = BUNDLE["artifacts"].values()
    assert artifact["type"] == "whl" and "nag_spark.cluster.databricks_wheel" in artifact["build"]
    out = artifact["build"].split("--out", 1)[1].split()[0]
    for key, task in TASKS.items():
        assert task["libraries"] == [{"whl": f"./{out}/*.whl"}], key


def _parser(job: str):
    spec = importlib.util.spec_from_file_location(f"bundle_job_{job}", REPO / "jobs" / f"{job}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_args


@pytest.mark.parametrize("key", list(TASKS))
def test_each_task_runs_a_job_with_arguments_it_accepts(key):
    task = TASKS[key]["spark_python_task"]
    script = REPO / task["python_file"]
    assert script.is_file() and script.parent.name == "jobs", script
    declared = {p["name"] for p in JOB["parameters"]}
    args = [str(a) for a in task["parameters"]]
    used = {m for a in args for m in re.findall(r"\{\{job\.parameters\.(\w+)\}\}", a)}
    assert used <= declared, used - declared
    concrete = [re.sub(r"\{\{job\.parameters\.(\w+)\}\}|\$\{var\.(\w+)\}", "0.2", a) for a in args]
    parsed = _parser(script.stem)(concrete)
    assert parsed.profile == "databricks"
