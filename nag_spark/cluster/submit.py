"""``nag-submit``: spark-submit from this Python's pyspark, with no venv activation needed.

pip's ``spark-submit`` script finds Spark by running ``find-spark-home``, which asks the
``python3`` on ``PATH``; run from a venv that is not activated, that is another Python and
it fails with "Could not find valid SPARK_HOME". ``nag-submit`` (installed beside it, in the
venv's ``bin/``) sets ``SPARK_HOME`` from its own interpreter's pyspark, puts the venv's
``bin/`` first on ``PATH``, makes this interpreter the driver's and the executors' Python
unless told otherwise, then runs spark-submit with the arguments as given::

    .venv/bin/nag-submit --master spark://HOST:7077 jobs/extract.py --input ... --output ...

One option of its own, before the application file: ``--ship-env ARCHIVE`` adds
``--archives ARCHIVE#environment --conf spark.pyspark.python=./environment/bin/python`` (the
packed venv of ``make package``) and keeps the driver on this interpreter (client mode).
What is missing (pyspark, Java) is one clear line and exit status 2.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import ConfigError
from ..session import java_executable
from .standalone import spark_home

ENV_ALIAS = "environment"


def find_spark_submit() -> Path:
    """The ``spark-submit`` of this interpreter's Spark, or a :class:`ConfigError` saying why not."""
    home = spark_home()
    exe = home / "bin" / "spark-submit"
    if not exe.is_file():
        where = "SPARK_HOME" if os.environ.get("SPARK_HOME") else "pyspark"
        raise ConfigError(f"no bin/spark-submit under {home} ({where}): not a Spark installation; "
                          "unset SPARK_HOME to use the venv's pyspark")
    return exe


def _split_app(argv: list[str]) -> int:
    """Index of the application (first ``.py``/``.jar`` argument), or len(argv)."""
    for i, arg in enumerate(argv):
        if arg.endswith((".py", ".jar")) and not (i and argv[i - 1] in ("--py-files", "--jars", "--files")):
            return i
    return len(argv)


def _conf_value(args: list[str], key: str) -> str | None:
    """The value of ``--conf key=value`` (or ``--conf=key=value``) in ``args``, else None."""
    for a, b in zip(args, args[1:] + [""]):
        item = b if a == "--conf" else a[len("--conf="):] if a.startswith("--conf=") else ""
        if item.startswith(f"{key}="):
            return item.split("=", 1)[1]
    return None


def _has_conf(args: list[str], key: str) -> bool:
    return _conf_value(args, key) is not None


def build_command(argv: list[str], python: str = sys.executable) -> tuple[list[str], dict]:
    """The spark-submit command line and environment ``nag-submit argv`` runs."""
    exe = find_spark_submit()
    java_executable()
    cut = _split_app(argv)
    options, app = list(argv[:cut]), list(argv[cut:])
    if "--ship-env" in options:
        i = options.index("--ship-env")
        if i + 1 >= len(options):
            raise ConfigError("--ship-env needs the packed environment (dist/nag-spark-env.tar.gz: "
                              "`make package`)")
        archive = Path(options[i + 1]).resolve()
        if not archive.is_file():
            raise ConfigError(f"--ship-env {options[i + 1]}: no such file (build it with `make package`)")
        del options[i:i + 2]
        options = ["--archives", f"{archive}#{ENV_ALIAS}",
                   "--conf", f"spark.pyspark.python=./{ENV_ALIAS}/bin/python", *options]
    cluster_mode = _conf_value(options, "spark.submit.deployMode") == "cluster" or any(
        a == "--deploy-mode" and b == "cluster" for a, b in zip(options, options[1:]))
    if _has_conf(options, "spark.pyspark.python") and not _has_conf(options, "spark.pyspark.driver.python") \
            and not cluster_mode:
        # spark.pyspark.python is also the driver's Python unless this says otherwise, and in
        # client mode the driver has no ./environment folder.
        options = ["--conf", f"spark.pyspark.driver.python={python}", *options]
    env = dict(os.environ, SPARK_HOME=str(exe.parent.parent))
    env["PATH"] = f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYSPARK_PYTHON", python)
    env.setdefault("PYSPARK_DRIVER_PYTHON", python)
    return [str(exe), *options, *app], env


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        cmd, env = build_command(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
