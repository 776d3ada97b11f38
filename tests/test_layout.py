"""The house rules of the package layout (docs/CONTRACT.md), checked on the source.

They keep the layers apart: pure kernels without Spark, tracking that never reaches into
the Spark layer, MLflow behind ``tracking/``, each table contract spelled in one module,
and modules and functions short enough to read.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nag_spark"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# The modules allowed to spell a ``nag.*`` table property or MLflow tag.
NAME_OWNERS = ("tables/", "tracking/schema.py")


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.Module, path: Path) -> set[str]:
    """Absolute names of every module imported (relative imports resolved)."""
    parts = ["nag_spark"] + list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    else:
        parts = parts[:-1]  # the package holding the module
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def test_no_module_is_too_long():
    long = {_rel(p): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_too_long():
    long = {}
    for p in _modules():
        for node in ast.walk(_tree(p)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{_rel(p)}:{node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("folder, forbidden", [
    ("kernels", ("pyspark",)),
    ("tables", ("mlflow", "nag_spark.spark", "nag_spark.tracking")),
    ("tracking", ("nag_spark.spark", "pyspark")),
    ("plots", ("pyspark", "mlflow", "nag_spark.spark")),
])
def test_layers_import_only_downwards(folder, forbidden):
    bad = {}
    for p in (PACKAGE / folder).rglob("*.py"):
        hits = {i for i in _imports(_tree(p), p) if i.split(".")[0] in forbidden
                or any(i == f or i.startswith(f + ".") for f in forbidden)}
        if hits:
            bad[_rel(p)] = sorted(hits)
    assert not bad, f"{folder}/ imports {forbidden}: {bad}"


def test_mlflow_is_imported_only_under_tracking():
    bad = [_rel(p) for p in _modules() if not _rel(p).startswith("tracking/")
           and any(i == "mlflow" or i.startswith("mlflow.") for i in _imports(_tree(p), p))]
    assert not bad, f"mlflow imported outside nag_spark/tracking/: {bad}"


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_property_and_tag_names_have_one_owner():
    """``nag.*`` names (table properties, MLflow tags) are spelled only by their owners."""
    bad = {}
    for p in _modules():
        if _rel(p).startswith(NAME_OWNERS):
            continue
        tree = _tree(p)
        skip = _docstrings(tree)
        hits = [n.value for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and id(n) not in skip and n.value.startswith("nag.")]
        if hits:
            bad[_rel(p)] = hits
    assert not bad, f"nag.* names spelled outside {NAME_OWNERS}: {bad}"
