"""What every job shares: comma lists, defaults from the options object, the error tail."""
from __future__ import annotations

import dataclasses

import pytest

from nag_spark.cli import comma_list, default_of, run_job
from nag_spark.errors import InputError


def test_comma_list_strips_and_drops_empties():
    assert comma_list("a, b ,, c") == ("a", "b", "c")
    assert comma_list("") == () and comma_list(None) == ()
    assert comma_list(("a,b", " c")) == ("a", "b", "c")


@dataclasses.dataclass(frozen=True)
class _Opts:
    path: str
    top_k: int = 20
    cols: tuple = dataclasses.field(default_factory=tuple)


def test_default_of_reads_the_dataclass():
    assert default_of(_Opts, "top_k") == 20
    assert default_of(_Opts, "cols") == ()
    with pytest.raises(KeyError, match="no default"):
        default_of(_Opts, "path")
    with pytest.raises(KeyError, match="no field"):
        default_of(_Opts, "nope")


def test_run_job_turns_nag_errors_into_exit_2(capsys):
    def bad(argv):
        raise InputError("column 'doc' is missing in x.parquet")

    assert run_job(bad, []) == 2
    assert capsys.readouterr().err == "error: column 'doc' is missing in x.parquet\n"
    assert run_job(lambda argv: 0, []) == 0
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_job(lambda argv: 1 / 0, [])
