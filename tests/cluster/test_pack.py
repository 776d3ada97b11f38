"""The packed environment (``make package``): rebuilt only when its inputs change."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

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
