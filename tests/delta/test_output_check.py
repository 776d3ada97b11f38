"""Output locations are checked before any work (issue 13, item 4): a file, a foreign
folder, one of the inputs, a table of another kind, a place the job may not write."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO
from nag_spark.delta.output_check import check_folder_output, check_table_output, write_problem
from nag_spark.errors import TableError


def _table(path, kind):
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(path), pa.table({"docid": ["a"]}))
    if kind:
        from deltalake import DeltaTable

        DeltaTable(str(path)).alter.set_table_properties({"nag.kind": kind}, raise_if_not_exists=False)
    return str(path)


def test_files_foreign_folders_and_inputs_are_refused(tmp_path):
    a_file = tmp_path / "f.parquet"
    a_file.write_bytes(b"PAR1")
    foreign = tmp_path / "plain"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("x")
    docs = tmp_path / "docs"
    docs.mkdir()
    cases = [
        (a_file, (), r"--output: .*f.parquet is a file, not a Delta table directory"),
        (foreign, (), r"--output: .*plain is not a Delta table .*notes.txt"),
        (docs, [("--input", docs)], r"--output .*docs is the input of --input"),
        (docs / "features", [("--input", docs)], r"lies inside the input folder of --input"),
        (tmp_path, [("--input", a_file)], r"holds the input of --input"),
        (tmp_path / "link", [("--pool", docs)], r"is the input of --pool"),
    ]
    os.symlink(docs, tmp_path / "link")
    for output, inputs, message in cases:
        with pytest.raises(TableError, match=message):
            check_table_output(output, inputs=inputs)
    assert (foreign / "notes.txt").read_text() == "x" and a_file.read_bytes() == b"PAR1"


def test_a_free_or_own_location_is_accepted(tmp_path):
    assert check_table_output(tmp_path / "new" / "deep" / "features") is False
    assert not (tmp_path / "new").exists()  # checking creates nothing
    own = _table(tmp_path / "feats", "features")
    assert check_table_output(own, kind="features", kind_key="nag.kind") is True
    (tmp_path / "empty").mkdir()
    assert check_table_output(tmp_path / "empty") is False


def test_a_table_of_another_kind_is_refused(tmp_path):
    sel = _table(tmp_path / "sel", "selection")
    with pytest.raises(TableError, match=r"--output .*sel is a selection table \(nag.kind=selection\), "
                                         r"not a features table"):
        check_table_output(sel, kind="features", kind_key="nag.kind")
    other = _table(tmp_path / "other", None)
    with pytest.raises(TableError, match=r"a Delta table that nag-spark did not write \(no property "
                                         r"'nag.kind'\)"):
        check_table_output(other, kind="selection", kind_key="nag.kind")


def test_folder_outputs(tmp_path):
    a_file = tmp_path / "report"
    a_file.write_text("x")
    with pytest.raises(TableError, match="report is a file, not a folder"):
        check_folder_output(a_file)
    table = _table(tmp_path / "pool", "features")
    with pytest.raises(TableError, match="pool is a Delta table; give a folder"):
        check_folder_output(table)
    with pytest.raises(TableError, match="lies inside the input folder of --pool"):
        check_folder_output(tmp_path / "pool" / "viz", inputs=[("--pool", table)])
    check_folder_output(tmp_path / "viz" / "run1")


def test_a_place_nothing_can_be_created_in_is_refused():
    # /proc takes no new files, whoever asks (root included): a real unwritable place.
    assert write_problem("/proc")
    with pytest.raises(TableError, match=r"--output /proc/nag/features: cannot create /proc"):
        check_table_output("/proc/nag/features")
    with pytest.raises(TableError, match=r"cannot create /proc"):
        check_folder_output("/proc/nag-viz")


def test_a_folder_the_user_may_not_write_is_refused():
    """As an unprivileged user: a folder owned by someone else (0755) is read-only to them."""
    import shutil
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="nag-ro-"))  # under /tmp: every user may enter
    os.chmod(base, 0o755)
    out = base / "outputs"
    out.mkdir()
    try:
        _refused_as_another_user(out)
    finally:
        shutil.rmtree(base)


def _refused_as_another_user(out):
    code = ("import sys; from nag_spark.delta.output_check import check_table_output\n"
            "try:\n    check_table_output(sys.argv[1])\nexcept Exception as e:\n"
            "    print(type(e).__name__, e)\n")
    cmd = [sys.executable, "-c", code, str(out / "features")]
    if os.geteuid() == 0:
        # Root may write anywhere: run the check as 'nobody' (setpriv drops the privileges).
        os.chmod(out, 0o755)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    else:
        os.chmod(out, 0o555)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.startswith("TableError --output"), proc.stdout + proc.stderr[-2000:]
    assert f"cannot create {out} (Permission denied)" in proc.stdout
