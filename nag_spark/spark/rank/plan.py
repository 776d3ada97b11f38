"""Checking a ranking's options and tables before any Spark job: the resolved
:class:`RankingPlan`.

Every check that can fail on the driver runs here, in the order a user fixes them:
options, targets, table locations, lineage of the two features tables, columns. The pool
and target tables are read once, at a pinned version, and every later step uses those
DataFrames, so what the run logs as its inputs is what it read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...config import TargetSpec, resolve_target
from ...delta.location import Location
from ...errors import InputError, TableError
from ...kernels.neuron_types import NEURON_TYPES
from ...logs import get_logger
from ...kernels.profile import check_top_k, check_weighting, layers_label, resolve_layers
from ...kernels.selection import check_fraction, split_fraction
from ...tables.features import KIND_KEY, FeaturesLineage, model_properties
from ...tables.selection import KIND as SELECTION_KIND
from ...tables.selection import clashing_payload
from .direct_scan import check_scan_mode
from .options import RankOptions

log = get_logger(__package__)  # the ranking job's one logger (nag_spark.spark.rank)


@dataclass(frozen=True, eq=False)
class RankingPlan:
    """A checked ranking: resolved targets, fractions, pinned inputs and their lineage.

    Attributes
    ----------
    specs : list of TargetSpec
        The targets, in the order given.
    target_path : str
        The table holding the target rows (the pool unless ``target_features`` is given).
    fraction, per_fraction : float
        The run's token fraction and each target's share of it.
    pool_df, target_df : DataFrame
        The two tables at ``pool_version`` / ``target_version`` (the same DataFrame when
        ``same_table``: target rows are then excluded from the pool).
    pool_props : dict
        The pool table's properties (its model lineage is copied into the selection).
    num_layers, top_k, n_neurons : int
        L, K and N of the scored neuron type, from the target features.
    layers : tuple of int
        The layers that score.
    score_top_k : int, optional
        k, the first indices of each layer's NAG that score (``--top-k``; None: all K).
    """

    specs: list[TargetSpec]
    target_path: str
    fraction: float
    per_fraction: float
    pool_df: object
    target_df: object
    pool_props: dict
    pool_version: int
    target_version: int
    num_layers: int
    top_k: int
    n_neurons: int
    layers: tuple[int, ...]
    same_table: bool
    score_top_k: int | None = None

    @property
    def used_top_k(self) -> int:
        """k: indices per layer that score (``top_k`` unless ``--top-k`` asks for fewer)."""
        return self.top_k if self.score_top_k is None else self.score_top_k

    @property
    def names(self) -> list[str]:
        """Target names, in order."""
        return [s.name for s in self.specs]

    @property
    def layer_label(self) -> str:
        """``all``, ``last``, ``first`` or ``0,5,9`` (params, table properties)."""
        return layers_label(self.layers, self.num_layers)

    @property
    def model_lineage(self) -> dict[str, str]:
        """The pool's lineage properties, which the selection and the run record."""
        return model_properties(self.pool_props)


def known_location(path: str) -> str:
    """One spelling per table: ``/x``, ``file:///x`` and a link to ``/x`` compare equal."""
    location = Location.parse(path)
    return os.path.realpath(location.uri) if location.local else location.uri


def resolve_targets(opts: RankOptions) -> list[TargetSpec]:
    """The target specs of ``opts.targets`` (names or inline filters), each given once."""
    if not opts.targets:
        raise InputError("no target given: pass --target NAME[,NAME...] or --target-filter COL=VALUE")
    specs = [resolve_target(t.strip(), opts.targets_file) for t in opts.targets if t.strip()]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError(f"a target is given twice: {', '.join(names)}")
    return specs


def _check_options(opts: RankOptions) -> float:
    fraction = check_fraction(opts.fraction)
    if opts.neuron_type not in NEURON_TYPES:
        raise InputError(f"unknown neuron type {opts.neuron_type!r}; known: {', '.join(NEURON_TYPES)}")
    if not np.isfinite(opts.power) or opts.power <= 0:
        raise InputError(f"--power must be a positive number, got {opts.power}")
    check_weighting(opts.profile_weighting)
    check_scan_mode(opts.scan)
    if opts.mode not in ("overwrite", "error"):
        raise InputError(f"--mode must be overwrite or error, got {opts.mode!r}")
    return fraction


def _check_locations(spark, opts: RankOptions, target_path: str) -> None:
    from ...delta import table_exists
    from ...delta.output_check import check_table_output
    from ...tracking.runs import check_tracking_store

    if known_location(opts.output) in (known_location(opts.pool), known_location(target_path)):
        raise InputError(f"--output {opts.output} would overwrite an input table")
    exists = check_table_output(opts.output, inputs=[("--pool", opts.pool),
                                                     ("--target-features", target_path)],
                                kind=SELECTION_KIND, kind_key=KIND_KEY)
    if opts.mode == "error" and (exists or table_exists(opts.output, spark)):
        raise TableError(f"output table {opts.output} exists (use --mode overwrite)")
    for role, path in (("pool", opts.pool), ("target features", target_path)):
        if not table_exists(path, spark):
            raise TableError(f"{role} table not found: no Delta table at {path}")
    check_tracking_store()


def _check_columns(opts: RankOptions, pool_df, target_df, target_path: str,
                   specs: Sequence[TargetSpec]) -> None:
    needed = ["docid", "token_num", opts.neuron_type] + list(opts.payload_cols)
    if opts.quality_col:
        needed.append(opts.quality_col)
    missing = [c for c in needed if c not in pool_df.columns]
    if missing:
        raise InputError(f"pool table {opts.pool} has no column {missing[0]!r} "
                         f"(columns: {', '.join(pool_df.columns)})")
    if opts.neuron_type not in target_df.columns:
        raise InputError(f"target features {target_path} have no column {opts.neuron_type!r}")
    for spec in specs:
        if spec.column not in target_df.columns:
            raise InputError(f"target {spec.name!r} filters on column {spec.column!r}, which "
                             f"target features {target_path} lack (columns: {', '.join(target_df.columns)})")
    clash = clashing_payload(opts.payload_cols)
    if clash:
        raise InputError(f"payload column {clash[0]!r} is already a selection column")
    _check_types(opts, pool_df)


_INTEGRAL = ("tinyint", "smallint", "int", "bigint")
_NUMERIC = _INTEGRAL + ("float", "double")


def _check_types(opts: RankOptions, pool_df) -> None:
    """Token counts must be integers and the quality column numbers: a cast of text would
    fail deep inside the scan (ANSI mode) or, worse, turn it into nulls silently."""
    types = {f.name: f.dataType.simpleString() for f in pool_df.schema}
    if types["token_num"] not in _INTEGRAL:
        raise InputError(f"pool table {opts.pool}: column 'token_num' is {types['token_num']}; "
                         "token counts must be integers")
    if opts.quality_col:
        have = types[opts.quality_col]
        if have not in _NUMERIC and not have.startswith("decimal"):
            raise InputError(f"pool table {opts.pool}: quality column {opts.quality_col!r} is "
                             f"{have}; --quality-col needs a numeric column")


def _note_legacy_layout(opts: RankOptions, pool_df) -> None:
    """Say how to speed up a pool whose NAGs are the arrays of earlier releases."""
    typ = pool_df.schema[opts.neuron_type].dataType
    if typ.typeName() == "array":
        log.info("pool %s stores %s as %s (a features table written before NAGs were packed): it ranks exactly the "
                 "same, but several times slower than packed NAGs; `python jobs/repack.py "
                 "--input %s --output NEW_TABLE` rewrites it", opts.pool, opts.neuron_type,
                 typ.simpleString(), opts.pool)


def plan_ranking(spark, opts: RankOptions) -> RankingPlan:
    """Check ``opts`` and both tables; the resolved plan (``opts`` is left as it is).

    Raises
    ------
    NagError
        The first problem found, named precisely: a bad option, an unknown or empty
        target, a missing table, an output that is an input, features of another model
        or settings, a missing column.
    """
    from ...delta import read_snapshot

    fraction = _check_options(opts)
    specs = resolve_targets(opts)
    per_fraction = split_fraction(fraction, len(specs))
    target_path = opts.target_features or opts.pool
    _check_locations(spark, opts, target_path)
    pool = read_snapshot(spark, opts.pool)
    same = known_location(target_path) == known_location(opts.pool)
    target = pool if same else read_snapshot(spark, target_path)
    pool_lineage = FeaturesLineage.from_properties(pool.properties, opts.pool)
    target_lineage = FeaturesLineage.from_properties(target.properties, target_path)
    pool_lineage.check_compatible(target_lineage, opts.neuron_type)
    num_layers = target_lineage.require("num_layers")
    top_k = target_lineage.require("top_k")
    n_neurons = target_lineage.neurons(opts.neuron_type)
    layers = resolve_layers(opts.layers, num_layers)
    score_top_k = check_top_k(opts.top_k, top_k)
    _check_columns(opts, pool.df, target.df, target_path, specs)
    _note_legacy_layout(opts, pool.df)
    return RankingPlan(specs, target_path, fraction, per_fraction, pool.df, target.df,
                       pool.properties, pool.version, target.version, num_layers, top_k,
                       n_neurons, layers, same, score_top_k)
