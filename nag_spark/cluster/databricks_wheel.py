"""The nag-spark wheel for Databricks clusters: only the dependencies the runtime lacks.

A Databricks Runtime ML cluster brings its own Spark, Delta, MLflow, torch, transformers,
pandas, pyarrow...; a cluster library installed with our pins would replace them (pyspark
4.2.0 over the runtime's Spark breaks the cluster). This copies the regular wheel with its
``Requires-Dist`` cut down to :data:`RUNTIME_LACKS`, so that ``libraries: - whl:`` in
``databricks.yml`` installs the package and just those::

    python -m nag_spark.cluster.databricks_wheel --out dist/databricks

(the bundle's artifact build runs it).
"""
from __future__ import annotations

import base64
import hashlib
import re
import sys
import zipfile
from pathlib import Path

from .pack import build_wheel

# Not part of Databricks Runtime ML; everything else nag-spark imports is.
RUNTIME_LACKS = ("deltalake", "gguf", "numba")


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def trim_requirements(metadata: str, keep=RUNTIME_LACKS) -> str:
    """``metadata`` with the ``Requires-Dist`` lines of other packages (and extras) removed.

    >>> trim_requirements("Name: x\\nRequires-Dist: pyspark==4.2.0\\nRequires-Dist: gguf==0.19.0\\n"
    ...                   "Requires-Dist: pytest; extra == 'test'\\n")
    'Name: x\\nRequires-Dist: gguf==0.19.0\\n'
    """
    out = []
    for line in metadata.splitlines(keepends=True):
        if line.startswith("Requires-Dist:"):
            spec = line.split(":", 1)[1].strip()
            name = re.split(r"[\s<>=!~;\[(]", spec, maxsplit=1)[0].lower()
            if name not in keep or "extra ==" in spec:
                continue
        out.append(line)
    return "".join(out)


def databricks_wheel(wheel: Path, out_dir: Path) -> Path:
    """Copy ``wheel`` into ``out_dir`` with trimmed requirements (RECORD kept valid)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel.name
    with zipfile.ZipFile(wheel) as src:
        names = src.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        new_meta = trim_requirements(src.read(meta).decode()).encode()
        rows = []
        for row in src.read(record).decode().splitlines():
            if row.startswith(meta + ","):
                row = f"{meta},{_record_hash(new_meta)},{len(new_meta)}"
            rows.append(row)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
            for name in names:
                data = new_meta if name == meta else ("\n".join(rows) + "\n").encode() \
                    if name == record else src.read(name)
                dst.writestr(src.getinfo(name), data)
    return target


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", default=".")
    p.add_argument("--out", default="dist/databricks")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(args.repo).resolve(), Path(tmp) / "wheel")
        print(databricks_wheel(wheel, Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
