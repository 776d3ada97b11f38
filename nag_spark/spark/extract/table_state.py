"""Where an extraction starts: the features table, created or checked, and what is left.

One look at the table decides everything a run skips: every unit whose transaction
identifier is already committed is done (:func:`open_features_table`); rows that another
extraction wrote (an older release's table, or the same documents under another input)
are found with one semi-join of docids (:func:`skip_present_docids`), so they are skipped
too and never written twice.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ...errors import InputError, TableError
from ...logs import get_logger
from ...tables.features import UNIT_ROWS_KEY
from .job_files import unit_of_file
from .units import WorkUnit, input_rows, plan_units, rows_done

log = get_logger("nag_spark.spark.extract")

# Docids found already present (written by another extraction) that a run skips; more
# would not fit comfortably in a broadcast to every task.
MAX_SKIPPED_DOCIDS = 2_000_000


@dataclass
class FeaturesTableState:
    """The output table as this run found it, and the units still to do."""

    output: str
    table_dir: str
    created: bool
    unit_rows: int
    version: int
    properties: dict
    output_schema: object                               # pyarrow.Schema of the table
    pending: list = field(default_factory=list)         # (unit, done_rows, committed version)
    rows_committed: int = 0                             # input rows already in the table
    total_rows: int | None = None                       # input rows this run goes through
    foreign_files: list = field(default_factory=list)   # data files of no unit of this input


def _local_dir(output: str) -> str:
    from ...delta.location import Location

    location = Location.parse(output)
    if not location.local:
        raise InputError(f"--output {output}: extraction writes its features table on a "
                         "filesystem the executors share (a local, NFS or mounted path such "
                         "as /dbfs/... or /Volumes/...), not a remote URI")
    return location.uri


def _run_schema(plan, docs):
    """The features table schema this run's rows have (its input's dataset and carried columns)."""
    from ...tables.features import features_schema

    carry = [f for f in docs.df.schema.fields if f.name in plan.worker_config(docs.columns).carry]
    return features_schema("dataset" in docs.columns, plan.neuron_types, plan.index_types, carry)


def _create(plan, docs, unit_rows: int) -> None:
    from ...delta.location import Location, check_delta_or_free
    from ...delta.txn_append import create_table

    check_delta_or_free(Location.parse(plan.output))  # never over a folder of other files
    schema = _run_schema(plan, docs)
    props = dict(plan.table_properties, **{UNIT_ROWS_KEY: str(unit_rows)})
    create_table(plan.output, schema, props, {"job": "extract", "step": "create"})
    log.info("created features table %s (work units of %d rows)", plan.output, unit_rows)


def _check_columns(plan, docs, table_schema) -> None:
    """An existing table gets rows of its own columns only: an input with a ``dataset`` (or
    carried) column the table lacks, or without one it has, is refused before any work."""
    ours = _run_schema(plan, docs).fieldNames()
    theirs = list(table_schema.names)
    if ours == theirs:
        return
    extra, missing = [c for c in ours if c not in theirs], [c for c in theirs if c not in ours]
    what = "; ".join(part for part in (
        extra and f"the input has {', '.join(map(repr, extra))}, which the table lacks",
        missing and f"the table has {', '.join(map(repr, missing))}, which the input lacks") if part)
    raise InputError(f"--output {plan.output}: this run's rows would not fit the existing "
                     f"features table's columns ({what or 'other column order'}); write to a new "
                     "--output, or give an input with the table's columns")


def _existing_unit_rows(spark, plan) -> int | None:
    """The table's unit size (None: no table yet), after checking its lineage."""
    from ...delta import table_exists, table_properties
    from ...delta.lineage import check_lineage

    if not table_exists(plan.output, spark):
        return None
    props = table_properties(plan.output, spark)
    check_lineage(props, plan.append_properties, plan.output)
    return int(props.get(UNIT_ROWS_KEY, plan.chunk_docs))


def open_features_table(spark, plan, docs, slots: int) -> FeaturesTableState:
    """Check or create the output table and find the units this run still has to do."""
    from ...delta.txn_append import TxnAppender

    table_dir = _local_dir(plan.output)
    unit_rows = _existing_unit_rows(spark, plan)
    created = unit_rows is None
    units, unit_rows = plan_units(docs.path, docs.kind, unit_rows=unit_rows,
                                  max_unit_rows=plan.chunk_docs, slots=slots,
                                  limit=plan.options.limit, version=docs.version)
    if created:
        _create(plan, docs, unit_rows)
    appender = TxnAppender(plan.output)
    if not created:
        _check_columns(plan, docs, appender.schema)
    state = FeaturesTableState(plan.output, table_dir, created, unit_rows, appender.version,
                               dict(appender.table.metadata().configuration), appender.schema)
    todo: list[WorkUnit] = []
    for unit in units:
        committed = appender.committed(unit.app_id)
        done, complete = rows_done(committed)
        wanted = unit.wanted_rows
        if complete or (wanted is not None and done >= wanted):
            state.rows_committed += wanted if wanted is not None else done
            continue
        state.rows_committed += done
        state.pending.append((unit, done, committed))
        todo.append(unit)
    left = input_rows(todo)
    state.total_rows = None if left is None else left - sum(d for _, d, _ in state.pending)
    ours = {u.unit_id for u in units}
    state.foreign_files = [f for f in appender.files() if unit_of_file(f) not in ours]
    log.info("features table %s v%d: %d work units of this input, %d done, %d to do",
             plan.output, state.version, len(units), len(units) - len(todo), len(todo))
    return state


def skip_present_docids(spark, state: FeaturesTableState, docs) -> frozenset:
    """Docids of this input that the table holds from files of no unit of this input."""
    if not state.foreign_files or not state.pending:
        return frozenset()
    paths = [os.path.join(state.table_dir, f) for f in state.foreign_files]
    theirs = spark.read.parquet(*paths).select("docid")
    present = docs.df.select("docid").join(theirs, "docid", "left_semi")
    rows = present.limit(MAX_SKIPPED_DOCIDS + 1).collect()
    if len(rows) > MAX_SKIPPED_DOCIDS:
        raise TableError(
            f"features table {state.output} already holds more than {MAX_SKIPPED_DOCIDS} "
            "docids of this input in files written by another extraction (an older release, "
            "or the same documents under another input path); extract into a new table")
    if rows:
        log.info("%d docids of the input are already in %s (written by another extraction): "
                 "they are skipped", len(rows), state.output)
    return frozenset(r["docid"] for r in rows)
