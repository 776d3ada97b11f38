"""Ranking job: target profile → distributed scoring → exact token-budget selection.

:func:`run_ranking` is the library entry point used by ``jobs/rank.py``, the demo and the
notebooks. Steps (DESIGN.md §1, docs/CONTRACT.md):

1. validate options and both tables (lineage properties, columns) before any Spark job;
2. build each target's :class:`~nag_spark.kernels.profile.TargetProfile` on the driver from
   the (small) target features, and broadcast them;
3. score the pool with ``mapInArrow`` (one pass over the NAGs), keep the scores on disk;
4. one aggregation: pool size, tokens, bad token counts, key bounds;
5. per target, select exactly by token budget with histograms, no global sort
   (:mod:`nag_spark.spark.rank_selection`);
6. write the selection Delta table and log the MLflow run (kind ``rank``).
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import TargetSpec, resolve_target
from ..delta.lineage import required_property
from ..delta.location import Location
from ..errors import InputError, LineageMismatchError, TableError
from ..kernels.neuron_types import NEURON_TYPES
from ..kernels.profile import TargetProfile, layers_label, resolve_layers
from ..kernels.selection import (
    DEFAULT_BINS, DEFAULT_MAX_BOUNDARY_ROWS, check_fraction, split_fraction, token_budget,
)
from ..logs import get_logger
from ..tables.features import decode_nags
from .rank_scoring import score_frame
from .rank_selection import SparkSelection, select_exact
from .targets import collect_target_rows, target_condition

log = get_logger(__name__)

# Lineage keys that must agree between the pool and the target features.
LINEAGE_KEYS = ("nag.model", "nag.model_digest", "nag.architecture", "nag.num_layers",
                "nag.top_k", "nag.max_length", "nag.dtype")
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass
class RankOptions:
    """What to rank and how (the options of ``jobs/rank.py``).

    Parameters
    ----------
    targets : sequence of str
        Target names from ``conf/targets.yaml`` or inline ``COL=VALUE[|VALUE]`` filters.
    pool, output : str
        Features Delta table of the pool; selection Delta table to write.
    target_features : str, optional
        Features table holding the target rows (default: the pool table; then target
        rows are excluded from the pool).
    fraction : float
        Token fraction in (0, 1]; with M targets each selects ``fraction / M``.
    neuron_type, layers, power
        Which NAG column, which layers score, exponent on target counts.
    quality_col, invert_quality
        Quality blend: min-max normalised distance + quality (inverted when higher is
        better); selection by the sum (``combined_score``).
    dedupe : bool
        Drop a docid from later targets when an earlier target kept it.
    payload_cols : sequence of str
        Extra pool columns copied into the selection.
    mode : {"overwrite", "error"}
        What to do when the output table exists.
    """

    targets: Sequence[str]
    pool: str
    output: str
    target_features: str | None = None
    fraction: float = 0.2
    neuron_type: str = "fwd_up"
    layers: str | Sequence[int] = "all"
    power: float = 1.0
    quality_col: str | None = None
    invert_quality: bool = False
    dedupe: bool = False
    payload_cols: Sequence[str] = ()
    experiment: str | None = None
    run_name: str | None = None
    mode: str = "overwrite"
    targets_file: str | None = None
    n_bins: int = DEFAULT_BINS
    max_boundary_rows: int = DEFAULT_MAX_BOUNDARY_ROWS
    rows_per_group: int = 1_000_000
    storage_level: str = "DISK_ONLY"


@dataclass
class TargetOutcome:
    """Per-target numbers of a ranking run."""

    name: str
    spec: str
    n_target_rows: int
    profile_digest: str
    budget: int
    selected_docs: int = 0
    selected_tokens: int = 0
    boundary: float | None = None
    boundary_rows: int = 0
    refinement_rounds: int = 0


@dataclass
class RankResult:
    """What :func:`run_ranking` did."""

    run_id: str
    output_path: str
    output_version: int
    pool_docs: int
    pool_tokens: int
    targets: list[TargetOutcome]
    timings: dict[str, float] = field(default_factory=dict)
    excluded_target_rows: int = 0


# ---------------------------------------------------------------- validation


def _known(path: str) -> str:
    """One spelling per table: ``/x``, ``file:///x`` and a link to ``/x`` compare equal."""
    location = Location.parse(path)
    return os.path.realpath(location.uri) if location.local else location.uri


def _resolve_targets(opts: RankOptions) -> list[TargetSpec]:
    if not opts.targets:
        raise InputError("no target given: pass --target NAME[,NAME...] or --target-filter COL=VALUE")
    specs = [resolve_target(t.strip(), opts.targets_file) for t in opts.targets if t.strip()]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError(f"a target is given twice: {', '.join(names)}")
    return specs


def _int_prop(props: dict, key: str, table: str) -> int:
    return int(required_property(props, key, table))


def check_lineage_match(pool_props: dict, target_props: dict, neuron_type: str,
                        pool: str, target: str) -> None:
    """Refuse features of another model, K, L, max_length or neuron type than the target's."""
    n_key = f"nag.n_neurons.{neuron_type}"
    for key in LINEAGE_KEYS + (n_key,):
        a, b = pool_props.get(key), target_props.get(key)
        if a is not None and b is not None and a != b:
            raise LineageMismatchError(
                f"pool features {pool} have {key}={a!r} but target features {target} have "
                f"{key}={b!r}: both must come from the same model and settings"
            )
    for props, table in ((pool_props, pool), (target_props, target)):
        types = props.get("nag.neuron_types")
        if types is not None and neuron_type not in types.split(","):
            raise LineageMismatchError(
                f"features table {table} holds neuron types {types!r}, not {neuron_type!r}"
            )


@dataclass
class _Inputs:
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


def _validate(spark, opts: RankOptions) -> _Inputs:
    from ..delta import read_snapshot, table_exists

    fraction = check_fraction(opts.fraction)
    if opts.neuron_type not in NEURON_TYPES:
        raise InputError(f"unknown neuron type {opts.neuron_type!r}; known: {', '.join(NEURON_TYPES)}")
    if not np.isfinite(opts.power) or opts.power <= 0:
        raise InputError(f"--power must be a positive number, got {opts.power}")
    if opts.mode not in ("overwrite", "error"):
        raise InputError(f"--mode must be overwrite or error, got {opts.mode!r}")
    specs = _resolve_targets(opts)
    per_fraction = split_fraction(fraction, len(specs))
    target_path = opts.target_features or opts.pool
    for role, path in (("pool", opts.pool), ("target features", target_path)):
        if not table_exists(path, spark):
            raise TableError(f"{role} table not found: no Delta table at {path}")
    if _known(opts.output) in (_known(opts.pool), _known(target_path)):
        raise InputError(f"--output {opts.output} would overwrite an input table")
    if opts.mode == "error" and table_exists(opts.output, spark):
        raise TableError(f"output table {opts.output} exists (use --mode overwrite)")
    # Versions are fixed here and every later read uses these DataFrames: what the run
    # logs as its inputs is what it read.
    pool = read_snapshot(spark, opts.pool)
    same = _known(target_path) == _known(opts.pool)
    target = pool if same else read_snapshot(spark, target_path)
    pool_props, target_props = pool.properties, target.properties
    check_lineage_match(pool_props, target_props, opts.neuron_type, opts.pool, target_path)
    num_layers = _int_prop(target_props, "nag.num_layers", target_path)
    top_k = _int_prop(target_props, "nag.top_k", target_path)
    n_neurons = _int_prop(target_props, f"nag.n_neurons.{opts.neuron_type}", target_path)
    layers = resolve_layers(opts.layers, num_layers)

    pool_df, target_df = pool.df, target.df
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
    reserved = {"nag_distance", "quality", "combined_score", "rank", "cum_tokens", "target",
                "dataset", "docid", "token_num"}
    clash = [c for c in opts.payload_cols if c in reserved]
    if clash:
        raise InputError(f"payload column {clash[0]!r} is already a selection column")
    return _Inputs(specs, target_path, fraction, per_fraction, pool_df, target_df, pool_props,
                   pool.version, target.version, num_layers, top_k, n_neurons, layers, same)


def _target_profiles(inputs: _Inputs, opts: RankOptions):
    profiles, counts = [], []
    tables = collect_target_rows(inputs.target_df, inputs.specs, [opts.neuron_type],
                                 inputs.target_path)
    for table in tables:
        nags = decode_nags(table.column(0), inputs.num_layers * inputs.top_k, opts.neuron_type)
        profiles.append(TargetProfile.from_nags(nags, inputs.num_layers, inputs.top_k,
                                                inputs.n_neurons, inputs.layers, opts.power))
        counts.append(table.num_rows)
    return profiles, counts


# ---------------------------------------------------------------- the job


def _key_names(n: int) -> list[str]:
    return [f"_nag_d{i}" for i in range(n)]


def _pool_stats(scored, keys: Sequence[str], quality: str | None) -> dict:
    from pyspark.sql import functions as F

    aggs = [F.count(F.lit(1)).alias("docs"), F.sum("token_num").alias("tokens"),
            F.sum(F.col("token_num").isNull().cast("long")).alias("null_tokens"),
            F.sum((F.col("token_num") < 0).cast("long")).alias("negative_tokens")]
    for k in keys:
        aggs += [F.min(k).alias(f"{k}_lo"), F.max(k).alias(f"{k}_hi")]
    if quality:
        bad = F.col(quality).isNull() | F.isnan(F.col(quality))
        aggs += [F.min(F.when(~bad, F.col(quality))).alias("q_lo"),
                 F.max(F.when(~bad, F.col(quality))).alias("q_hi"),
                 F.sum(bad.cast("long")).alias("q_bad")]
    return scored.agg(*aggs).collect()[0].asDict()


def _check_pool(stats: dict, scored, opts: RankOptions) -> None:
    from pyspark.sql import functions as F

    if not stats["docs"]:
        raise InputError(f"pool {opts.pool} has no rows to rank")
    if stats["null_tokens"] or stats["negative_tokens"]:
        bad = scored.filter(F.col("token_num").isNull() | (F.col("token_num") < 0))
        shown = ", ".join(repr(r["docid"]) for r in bad.select("docid").limit(5).collect())
        raise InputError(
            f"pool {opts.pool}: column 'token_num' has {stats['null_tokens']} null and "
            f"{stats['negative_tokens']} negative values (e.g. docid {shown}); token counts "
            "must be non-negative integers"
        )
    if opts.quality_col and stats["q_bad"]:
        raise InputError(f"pool {opts.pool}: quality column {opts.quality_col!r} has "
                         f"{stats['q_bad']} null or NaN values")


def _normalised(col: str, lo: float, hi: float, invert: bool = False):
    from pyspark.sql import functions as F

    # Same arithmetic as kernels.selection.minmax_normalise, so results match bit for bit.
    span = hi - lo
    out = (F.col(col) - F.lit(lo)) / F.lit(span) if span > 0 else F.lit(0.0)
    return F.lit(1.0) - out if invert else out


def run_ranking(spark, opts: RankOptions) -> RankResult:
    """Rank the pool against each target and write the selection table (see module doc).

    Raises
    ------
    NagError
        Bad options or inputs (before any scoring), named precisely.
    """
    import mlflow
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from ..delta import write_table
    from ..tracking.runs import log_delta_table, start_run

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    inputs = _validate(spark, opts)
    target_path, fraction = inputs.target_path, inputs.fraction
    profiles, n_target_rows = _target_profiles(inputs, opts)
    timings["profile"] = time.perf_counter() - t0

    pool = inputs.pool_df
    excluded = 0
    if inputs.same_table:
        # Target rows must not select themselves: drop every target's rows from the pool.
        pool = pool.filter(~target_condition(inputs.specs))
        excluded = int(sum(n_target_rows))
        log.info("target rows come from the pool table: %d target rows excluded from the pool",
                 excluded)
    if "dataset" not in pool.columns:
        pool = pool.withColumn("dataset", F.lit(None).cast("string"))
    keys = _key_names(len(profiles))
    keep = ["docid", "dataset", "token_num"]
    if opts.quality_col:
        pool = pool.withColumn("quality", F.col(opts.quality_col).cast("double"))
        keep.append("quality")
    keep += list(opts.payload_cols)
    layer_text = layers_label(inputs.layers, inputs.num_layers)
    names = [s.name for s in inputs.specs]
    lineage = {k: v for k, v in inputs.pool_props.items()
               if k.startswith("nag.") and k not in ("nag.kind",)}
    run_tags = {"nag.pool_path": str(opts.pool), "nag.pool_version": str(inputs.pool_version),
                "nag.target": ",".join(names)}
    with start_run("rank", experiment=opts.experiment,
                   run_name=opts.run_name or f"rank-{'+'.join(names)}", tags=run_tags) as run:
        run_id = run.info.run_id
        params = {"target": ",".join(names), "target_filters": "; ".join(s.describe() for s in inputs.specs),
                  "fraction": fraction, "fraction_per_target": inputs.per_fraction, "layers": layer_text,
                  "power": opts.power, "neuron_type": opts.neuron_type,
                  "quality_col": opts.quality_col or "", "invert_quality": opts.invert_quality,
                  "dedupe": opts.dedupe, "pool_path": str(opts.pool),
                  "target_features_path": str(target_path), "n_bins": opts.n_bins}
        params.update({k[len("nag."):]: v for k, v in lineage.items()})
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        log_delta_table(str(opts.pool), inputs.pool_version, "input", name="pool")
        if not inputs.same_table:
            log_delta_table(str(target_path), inputs.target_version, "target", name="target")

        t = time.perf_counter()
        scored = score_frame(pool, opts.neuron_type, profiles, keys, keep)
        scored = scored.persist(getattr(StorageLevel, opts.storage_level))
        try:
            stats = _pool_stats(scored, keys, "quality" if opts.quality_col else None)
            _check_pool(stats, scored, opts)
            timings["score_and_stats"] = time.perf_counter() - t
            total = int(stats["tokens"])
            result = _select_all(scored, inputs, opts, keys, stats, total, profiles,
                                 n_target_rows, timings)
            outcomes, final, selections = result
            t = time.perf_counter()
            props = {"nag.kind": "selection", "nag.target": ",".join(names),
                     "nag.fraction": str(fraction), "nag.layers": layer_text,
                     "nag.power": str(opts.power), "nag.neuron_type": opts.neuron_type,
                     "nag.profile_digest": ",".join(o.profile_digest for o in outcomes),
                     "nag.mlflow_run_id": run_id, "nag.pool_table": str(opts.pool),
                     "nag.pool_version": str(inputs.pool_version), "nag.dedupe": str(opts.dedupe).lower()}
            if opts.quality_col:
                props.update({"nag.quality_col": opts.quality_col,
                              "nag.invert_quality": str(opts.invert_quality).lower()})
            for k, v in lineage.items():
                props.setdefault(k, v)
            version = write_table(final, opts.output, mode="overwrite", properties=props,
                                  commit_info={"job": "rank", "mlflow_run_id": run_id,
                                               "target": ",".join(names)})
            timings["write"] = time.perf_counter() - t
        finally:
            scored.unpersist()
        t = time.perf_counter()
        composition = _composition(spark, opts.output, version, outcomes)
        timings["report"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        res = RankResult(run_id, str(opts.output), version, int(stats["docs"]), total, outcomes,
                         timings, excluded)
        _log_run(res, inputs, profiles, selections, composition, opts)
        log_delta_table(str(opts.output), version, "output", name="selection")
        mlflow.set_tags({"nag.output_path": str(opts.output), "nag.output_version": str(version)})
    log.info("selected %s into %s@v%d", ", ".join(f"{o.name}: {o.selected_docs} docs/"
             f"{o.selected_tokens} tokens" for o in outcomes), opts.output, version)
    return res


def _select_all(scored, inputs, opts, keys, stats, total, profiles, n_target_rows, timings):
    from pyspark.sql import functions as F

    outcomes, frames, selections = [], [], []
    payload = list(opts.payload_cols)
    budget = token_budget(total, inputs.per_fraction)
    chosen_before = None  # docids every earlier target selected (for --dedupe)
    t = time.perf_counter()
    for i, (spec, key) in enumerate(zip(inputs.specs, keys)):
        lo, hi = float(stats[f"{key}_lo"]), float(stats[f"{key}_hi"])
        frame = scored.withColumn("nag_distance", F.col(key))
        order_col = "nag_distance"
        if opts.quality_col:
            frame = frame.withColumn(
                "combined_score", _normalised("nag_distance", lo, hi)
                + _normalised("quality", float(stats["q_lo"]), float(stats["q_hi"]),
                              opts.invert_quality))
            order_col = "combined_score"
            # Bounds of the blend itself, for the histogram: one small aggregation.
            b = frame.agg(F.min(order_col), F.max(order_col)).collect()[0]
            lo, hi = float(b[0]), float(b[1])
        frame = frame.drop(*keys)
        sel: SparkSelection = select_exact(frame, order_col, budget, lo, hi, n_bins=opts.n_bins,
                                           max_boundary_rows=opts.max_boundary_rows,
                                           rows_per_group=opts.rows_per_group)
        cols = ["docid", "dataset", "token_num", "nag_distance"]
        if opts.quality_col:
            cols += ["quality", "combined_score"]
        cols += ["rank", "cum_tokens"]
        out = sel.df.select(*cols, F.lit(spec.name).alias("target"), *payload)
        if opts.dedupe:
            # Against the earlier targets' own selections, not their deduplicated outputs:
            # the docids are the same, and the plan stays linear in the number of targets
            # (each deduplicated output would embed every earlier one again).
            ids = sel.df.select("docid")
            if chosen_before is not None:
                out = out.join(chosen_before, "docid", "left_anti").select(*cols, "target", *payload)
                ids = chosen_before.unionByName(ids)
            chosen_before = ids
        frames.append(out)
        cut = sel.boundary.cutoff
        outcomes.append(TargetOutcome(
            spec.name, spec.describe(), n_target_rows[i], profiles[i].digest(), budget,
            boundary=(hi if cut.keeps_all else cut.key), boundary_rows=sel.boundary.boundary_rows,
            refinement_rounds=sel.boundary.rounds))
        selections.append(sel)
    final = frames[0]
    for f in frames[1:]:
        final = final.unionByName(f)
    timings["select"] = time.perf_counter() - t
    return outcomes, final, selections


def _composition(spark, output: str, version: int, outcomes: list[TargetOutcome]) -> dict:
    from pyspark.sql import functions as F

    from ..delta import read_table

    rows = (read_table(spark, output, version).groupBy("target", "dataset")
            .agg(F.sum("token_num").alias("tokens"), F.count(F.lit(1)).alias("docs")).collect())
    selected: dict[str, dict[str, int]] = {o.name: {} for o in outcomes}
    for r in rows:
        ds = "<none>" if r["dataset"] is None else r["dataset"]
        selected.setdefault(r["target"], {})[ds] = int(r["tokens"])
    for o in outcomes:
        o.selected_docs = int(sum(int(r["docs"]) for r in rows if r["target"] == o.name))
        o.selected_tokens = int(sum(selected[o.name].values()))
    return selected


def _log_run(res: RankResult, inputs: _Inputs, profiles, selections: list[SparkSelection],
             selected_comp: dict, opts: RankOptions) -> None:
    import mlflow

    from ..plots import plot_composition, plot_distance_histogram, plot_profile_heatmap

    multi = len(res.targets) > 1
    metrics = {"pool_docs": res.pool_docs, "pool_tokens": res.pool_tokens,
               "pool_excluded_target_docs": res.excluded_target_rows,
               "selected_docs": sum(o.selected_docs for o in res.targets),
               "selected_tokens": sum(o.selected_tokens for o in res.targets)}
    for o, sel in zip(res.targets, selections):
        sfx = f".{o.name}" if multi else ""
        metrics.update({f"target_docs{sfx}": o.n_target_rows, f"budget_tokens{sfx}": o.budget,
                        f"boundary{sfx}": o.boundary, f"boundary_rows{sfx}": o.boundary_rows,
                        f"refinement_rounds{sfx}": o.refinement_rounds})
        if multi:
            metrics.update({f"selected_docs{sfx}": o.selected_docs,
                            f"selected_tokens{sfx}": o.selected_tokens})
        for q, v in sel.histogram.quantiles(QUANTILES).items():
            metrics[f"distance_q{int(round(q * 100)):02d}{sfx}"] = v
    metrics.update({f"time_{k}_s": v for k, v in res.timings.items()})
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})

    key = "combined_score" if opts.quality_col else "nag_distance"
    first = selections[0].histogram.display()
    hist = {"edges": first["edges"], "counts": first["counts"], "key": key,
            "boundary": {o.name: o.boundary for o in res.targets}}
    if multi:
        hist["by_target"] = {o.name: s.histogram.display() for o, s in zip(res.targets, selections)}
    composition = {"pool": {k: int(v) for k, v in selections[0].histogram.tokens_by_dataset.items()},
                   "selected": selected_comp}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, (o, p) in enumerate(zip(res.targets, profiles)):
            stem = "profile" if i == 0 else f"profile_{o.name}"
            p.save(tmp / f"{stem}.npz")
            mlflow.log_artifact(str(tmp / f"{stem}.npz"), "profile")
            png = "profile_heatmap" if i == 0 else f"profile_heatmap_{o.name}"
            plot_profile_heatmap(p.weights, tmp / f"{png}.png",
                                 title=f"Target profile of {o.name} ({inputs.num_layers} layers)")
            mlflow.log_artifact(str(tmp / f"{png}.png"), "plots")
        mlflow.log_dict(hist, "stats/distance_hist.json")
        mlflow.log_dict(composition, "stats/composition.json")
        plot_distance_histogram(hist, hist["boundary"], tmp / "distance_hist.png")
        mlflow.log_artifact(str(tmp / "distance_hist.png"), "plots")
        plot_composition(composition["pool"], selected_comp, tmp / "composition.png")
        mlflow.log_artifact(str(tmp / "composition.png"), "plots")
