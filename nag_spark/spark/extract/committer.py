"""The driver's half of exactly-once extraction: done markers in, Delta commits out.

While the Spark job runs, the driver polls the job's *done* markers (:mod:`.job_files`)
and commits every finished unit with its transaction identifier
(:class:`~nag_spark.delta.txn_append.TxnAppender`): the unit's file and
``txn(nag-extract:<unit>, version)`` land in one atomic commit. Its work per unit is
constant: one footer read, one commit; nothing is re-read as the table grows.

Exactly once:

- a second attempt of a committed unit (task retry, speculation, a second job on the same
  input) finds the unit's transaction version already there and its file is deleted;
- a commit is tried only on the version the driver last inspected; when another writer
  got there first, the files it added are looked at before trying again, and if they hold
  any docid of the files about to be committed (then or in any later commit of this job),
  the job stops with a
  :class:`~nag_spark.errors.TableError` naming the table and the other commit. Nothing
  committed is lost, and a re-run skips the docids that are already there.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ...delta.txn_append import TableMoved, TxnAppender
from ...errors import TableError
from ...logs import get_logger
from .job_files import JobFiles, pause_for_tests

log = get_logger(__name__)
_EXAMPLES = 5


@dataclass
class CommitTally:
    """What the committed units of this job add up to."""

    units: int = 0
    units_elsewhere: int = 0
    docs: int = 0
    tokens: int = 0
    empty: int = 0
    present: int = 0
    no_tokens: int = 0
    bad_utf8: int = 0
    rows_in: int = 0
    busy_seconds: float = 0.0
    version: int | None = None
    committed_files: set = field(default_factory=set)


class UnitCommitter:
    """Commits one job's finished units into the features table at ``output``."""

    def __init__(self, output: str, job: JobFiles, start_versions: dict[str, int | None],
                 commit_info: dict, units_per_commit: int = 64, base_version: int | None = None):
        self.output, self.job = output, job
        # Start from the version the job planned on (its skipped docids and units come from
        # it): commits another job made since are then checked before ours, not built upon.
        self.appender = TxnAppender(output, base_version)
        # The transaction version each unit had when the job planned it: a commit is valid
        # only if nobody moved it since.
        self.start_versions = dict(start_versions)
        self.commit_info = dict(commit_info)
        self.units_per_commit = units_per_commit
        self.tally = CommitTally(version=self.appender.version)
        self.handled: set[str] = set()
        # Docids that other writers committed while this job ran -> (version, commitInfo).
        # Kept for the whole job: a foreign commit seen while committing one batch must
        # also stop any later batch that holds one of its docids (the table need not move
        # again before that one).
        self.foreign: dict = {}

    # ------------------------------------------------------------ polling

    def poll(self) -> int:
        """Commit every finished unit not committed yet; returns how many were committed."""
        ready, seen = [], set()
        for path, marker in self.job.done_markers():
            unit = marker["unit_id"]
            if unit in self.handled or unit in seen:
                self._drop(path, marker, "another attempt of this unit was committed")
                continue
            seen.add(unit)
            ready.append((path, marker))
        done = 0
        for i in range(0, len(ready), self.units_per_commit):
            done += self._commit(ready[i:i + self.units_per_commit])
        return done

    def _moved_elsewhere(self, marker: dict) -> bool:
        now = self.appender.committed(marker["app_id"])
        return now != self.start_versions.get(marker["unit_id"])

    def _drop(self, path: str, marker: dict, why: str) -> None:
        self.tally.busy_seconds += _busy(marker)
        self.job.remove_data_file(marker.get("file"))
        self.job.forget(path, marker)
        log.debug("unit %s attempt %s not committed: %s", marker["unit_id"], marker["attempt"], why)

    def _commit(self, batch: list[tuple[str, dict]]) -> int:
        while True:
            fresh = []
            for path, marker in batch:
                if self._moved_elsewhere(marker):
                    self.tally.units_elsewhere += 1
                    self.handled.add(marker["unit_id"])
                    self._drop(path, marker, "its unit was committed by another attempt or job")
                else:
                    fresh.append((path, marker))
            batch = fresh
            if not batch:
                return 0
            self._refuse_overlap([m for _, m in batch])
            files = [m["file"] for _, m in batch if m.get("file")]
            txns = [(m["app_id"], m["version"]) for _, m in batch]
            info = dict(self.commit_info, units=str(len(batch)))
            pause_for_tests("precommit")
            try:
                version = self.appender.append(files, txns, info)
                break
            except TableMoved:
                before = self.appender.version
                self.appender.refresh()
                self._note_foreign(self.appender.added_since(before))
        pause_for_tests("postcommit")
        for path, marker in batch:
            self._count(marker)
            self.handled.add(marker["unit_id"])
            self.tally.committed_files.add(marker.get("file"))
            self.job.forget(path, marker)
        self.tally.version = version
        return len(batch)

    def _count(self, m: dict) -> None:
        t = self.tally
        t.units += 1
        t.docs += m["docs"]
        t.tokens += m["tokens"]
        t.empty += m["empty"]
        t.present += m["present"]
        t.no_tokens += m["no_tokens"]
        t.bad_utf8 += m["bad_utf8"]
        t.rows_in += m["rows_in"]
        t.busy_seconds += _busy(m)

    # ------------------------------------------------------------ concurrency

    def _docids(self, relative: str) -> set:
        import pyarrow.parquet as pq

        return set(pq.read_table(os.path.join(self.job.table_dir, relative), columns=["docid"])
                   .column("docid").to_pylist())

    def _note_foreign(self, added: list[tuple[int, str, dict]]) -> None:
        """Remember the docids of files other writers added (``added``: since our last look).

        Files of units this job will find committed elsewhere are among them; those units'
        attempts are dropped before any check, so their docids never clash.
        """
        for v, p, info in added:
            for docid in self._docids(p):
                self.foreign.setdefault(docid, (v, info))

    def _refuse_overlap(self, markers: list[dict]) -> None:
        """Refuse to commit docids that another job's commit holds already."""
        if not self.foreign:
            return
        mine: set = set()
        for m in markers:
            if m.get("file"):
                mine |= self._docids(m["file"])
        clash = sorted(d for d in mine if d in self.foreign)
        if clash:
            v, info = self.foreign[clash[0]]
            who = info.get("job") or info.get("operation") or "another writer"
            run = info.get("mlflow_run_id")
            raise TableError(
                f"features table {self.output}: version {v}, committed by {who}"
                f"{f' (MLflow run {run})' if run else ''} while this job ran, already holds "
                f"{len(clash)} docids this job was about to commit (e.g. "
                f"{', '.join(map(repr, clash[:_EXAMPLES]))}): two extractions with "
                "overlapping inputs ran at once. This job stopped; what it committed is "
                "kept, and a re-run skips the docids already in the table")


def _busy(marker: dict) -> float:
    return max(0.0, float(marker["ended"]) - float(marker["started"]) - float(marker["load_seconds"]))

