"""A bounded, deterministic sample of NAGs, drawn in Spark for the NAG map.

Memory on the driver is bounded by ``max_points`` whatever the size of the tables: the
sample is drawn in Spark with a per-dataset quota, by a hash of ``docid`` and the seed,
so the same tables and seed always give the same points, however they are partitioned.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..errors import ConfigError, InputError
from ..tables.features import FeaturesLineage


@dataclass(frozen=True)
class FeaturesSource:
    """A features table as read: the DataFrame, and where it came from when it is a table.

    ``path``/``version`` are ``None`` and ``properties`` empty for a plain DataFrame.
    """

    df: "pyspark.sql.DataFrame"  # noqa: F821
    path: str | None = None
    version: int | None = None
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def lineage(self) -> FeaturesLineage:
        return FeaturesLineage.from_properties(self.properties, self.path or "(DataFrame)")


def read_features(spark, source) -> FeaturesSource:
    """A Delta path (read at its latest version, pinned) or a DataFrame, as a source."""
    if isinstance(source, (str, os.PathLike)):
        from ..delta import read_snapshot

        path = str(source)
        df, version, props = read_snapshot(spark, path)
        return FeaturesSource(df, path, version, props)
    return FeaturesSource(source)


def dataset_quotas(counts: Mapping[str, int], per_dataset: int, max_points: int) -> dict[str, int]:
    """How many points to draw from each dataset.

    At most ``per_dataset`` each and ``max_points`` in all; when the cap bites, the quota
    is the same for every dataset large enough (water-filling), so small datasets keep all
    their rows and big ones do not crowd them out of the map.

    >>> dataset_quotas({"a": 1000, "b": 5}, per_dataset=100, max_points=60)
    {'a': 55, 'b': 5}
    """
    if per_dataset < 1 or max_points < 1:
        raise ConfigError("per_dataset and max_points must be at least 1")
    want = {k: min(int(v), per_dataset) for k, v in counts.items() if int(v) > 0}
    if sum(want.values()) <= max_points:
        return want
    lo, hi = 0, per_dataset
    while lo < hi:  # the largest common cap whose total fits
        mid = (lo + hi + 1) // 2
        if sum(min(v, mid) for v in want.values()) <= max_points:
            lo = mid
        else:
            hi = mid - 1
    return {k: min(v, lo) for k, v in want.items() if min(v, lo) > 0}


def _dataset_counts(base, what: str) -> dict[str, int]:
    """Rows per dataset, from the one scan that also proves every docid appears once."""
    from pyspark.sql import functions as F

    rows = (base.rollup("dataset")
            .agg(F.count(F.lit(1)).alias("count"), F.count_distinct("docid").alias("ids"),
                 F.grouping("dataset").alias("total"))
            .collect())
    total = next((r for r in rows if r["total"]), None)
    if total is not None and total["ids"] != total["count"]:
        from ..spark.rank.pool import refuse_duplicates

        refuse_duplicates(base, what, int(total["count"] - total["ids"]), action="drawn")
    return {r["dataset"]: r["count"] for r in rows if not r["total"]}


def sample_features(df, column: str, *, per_dataset: int, max_points: int, seed: int,
                    dataset_col: str = "dataset", default_dataset: str = "pool",
                    what: str = "features"):
    """A bounded, deterministic per-dataset sample of ``df`` as a pandas DataFrame.

    Returns at most ``max_points`` rows with ``docid``, ``dataset`` and the NAG column.

    Raises
    ------
    InputError
        A missing column, or a docid that appears twice (``what`` names the table).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    if column not in df.columns:
        raise InputError(f"features have no column {column!r} (columns: {', '.join(df.columns)})")
    if "docid" not in df.columns:
        raise InputError("features have no column 'docid'")
    ds = F.col(dataset_col).cast("string") if dataset_col in df.columns else F.lit(default_dataset)
    base = df.select(F.col("docid").cast("string").alias("docid"),
                     F.coalesce(ds, F.lit("(none)")).alias("dataset"), F.col(column).alias("nag"))
    counts = _dataset_counts(base, what)
    quotas = dataset_quotas(counts, per_dataset, max_points)
    if not quotas:
        return base.limit(0).toPandas()
    # Keep each row with a probability a little above quota/count, then cut to the quota
    # with a window over that small remainder: no global sort, no full-table window.
    spark = df.sparkSession
    frac = spark.createDataFrame(
        [(k, min(1.0, 1.5 * q / counts[k] + 1e-9), q) for k, q in quotas.items()],
        "dataset string, frac double, quota int",
    )
    u = (F.abs(F.xxhash64("docid", F.lit(int(seed)))) % F.lit(1 << 30)) / F.lit(float(1 << 30))
    kept = (base.join(F.broadcast(frac), "dataset")
            .withColumn("_u", u).where(F.col("_u") < F.col("frac")))
    w = Window.partitionBy("dataset").orderBy("_u", "docid")
    sample = (kept.withColumn("_r", F.row_number().over(w)).where(F.col("_r") <= F.col("quota"))
              .select("docid", "dataset", "nag").orderBy("dataset", "docid"))
    return sample.toPandas()


def sample_map_points(pool_df, targets_df=None, *, neuron_type: str,
                      target_filter: tuple[str, Sequence[str]] | None, per_dataset: int,
                      max_points: int, seed: int, pool_name: str = "(DataFrame)",
                      targets_name: str = "(DataFrame)"):
    """The map's points: a pool sample and, with targets, a target sample (``is_target``).

    Targets get their own third of ``max_points``: the map is about where they sit in the
    pool. ``target_filter`` (column, values) keeps only those target rows.
    """
    import pandas as pd

    target_budget = max(1, max_points // 3) if targets_df is not None else 0
    pool = sample_features(pool_df, neuron_type, per_dataset=per_dataset,
                           max_points=max(1, max_points - target_budget), seed=seed,
                           default_dataset="pool", what=f"pool features {pool_name}")
    parts = [pool.assign(is_target=False)]
    if targets_df is not None:
        if target_filter is not None:
            col, values = target_filter
            if col not in targets_df.columns:
                raise InputError(f"target filter column {col!r} is not in the target features")
            targets_df = targets_df.where(targets_df[col].isin(list(values)))
        targets = sample_features(targets_df, neuron_type, per_dataset=per_dataset,
                                  max_points=target_budget, seed=seed, default_dataset="target",
                                  what=f"target features {targets_name}")
        parts.append(targets.assign(is_target=True))
    return pd.concat(parts, ignore_index=True)
