"""A 2-D map of NAGs: sample features in Spark, embed on the driver, plot by dataset.

Each NAG (an L×K matrix of neuron indices) is read as a sparse binary vector of length
L·N with a one at ``l·N + idx[l, k]``: two documents are close when they activate the
same neurons in the same layers. The vectors go through PCA (a truncated SVD, which works
on the sparse matrix directly) and then t-SNE (or UMAP when ``umap-learn`` is installed
and asked for), as in the NAG paper's visualisation.

Memory on the driver is bounded by ``max_points`` whatever the size of the tables: the
sample is drawn in Spark with a per-dataset quota, by a hash of ``docid`` and the seed,
so the same tables and seed always give the same points, however they are partitioned.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .errors import ConfigError, InputError
from .logs import get_logger

log = get_logger(__name__)

METHODS = ("auto", "tsne", "umap", "pca")


@dataclass
class NagMap:
    """The result of :func:`nag_map`.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per sampled NAG: ``docid``, ``dataset``, ``is_target``, ``x``, ``y``.
    method : str
        The embedding used (``tsne``, ``umap`` or ``pca``).
    figure : str
        Path of the PNG.
    run_id : str or None
        The MLflow run (kind ``visualize``), when one was logged.
    """

    points: "pandas.DataFrame"  # noqa: F821
    method: str
    figure: str
    run_id: str | None = None
    params: dict = field(default_factory=dict)


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


def sample_features(df, column: str, *, per_dataset: int, max_points: int, seed: int,
                    dataset_col: str = "dataset", default_dataset: str = "pool"):
    """A bounded, deterministic per-dataset sample of ``df`` as a pandas DataFrame.

    Returns at most ``max_points`` rows with ``docid``, ``dataset`` and the NAG column.
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
    counts = {r["dataset"]: r["count"] for r in base.groupBy("dataset").count().collect()}
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


def nag_matrix(nags: Sequence, num_layers: int, n_neurons: int | None = None):
    """The NAGs as a sparse binary CSR matrix of shape (n, L·N).

    ``nags`` holds flat layer-major arrays of L·K indices. ``n_neurons`` defaults to the
    largest index seen plus one (enough for an embedding, which only needs distinct columns).
    """
    from scipy import sparse

    arrs = [np.asarray(a, dtype=np.int64).ravel() for a in nags]
    if not arrs:
        raise InputError("no NAGs to embed")
    width = arrs[0].size
    if width == 0 or width % num_layers:
        raise InputError(f"a NAG of {width} indices does not split into {num_layers} layers")
    if any(a.size != width for a in arrs):
        raise InputError("NAGs of different lengths in one column")
    idx = np.stack(arrs)
    top_k = width // num_layers
    n = int(n_neurons) if n_neurons else int(idx.max()) + 1
    layer = np.repeat(np.arange(num_layers), top_k)[None, :]
    cols = (layer * n + idx).ravel()
    rows = np.repeat(np.arange(len(arrs)), width)
    mat = sparse.csr_matrix((np.ones(cols.size, dtype=np.float32), (rows, cols)),
                            shape=(len(arrs), num_layers * n))
    mat.data[:] = 1.0  # a repeated index in one layer (should not happen) stays binary
    return mat


def embed(matrix, *, method: str = "auto", seed: int = 0, pca_components: int = 50,
          tsne_iter: int = 500, perplexity: float = 30.0) -> tuple[np.ndarray, str]:
    """2-D coordinates of the rows of ``matrix``: PCA (truncated SVD), then t-SNE or UMAP.

    ``method``: ``auto`` (UMAP when importable, else t-SNE), ``tsne``, ``umap`` or ``pca``
    (the first two components only: fast, for huge samples or smoke tests).
    """
    from sklearn.decomposition import TruncatedSVD

    if method not in METHODS:
        raise ConfigError(f"unknown embedding method {method!r}; choose one of {', '.join(METHODS)}")
    n = matrix.shape[0]
    if n < 3:
        raise InputError(f"need at least 3 NAGs for a 2-D map, got {n}")
    k = int(max(2, min(pca_components, n - 1, matrix.shape[1] - 1)))
    reduced = TruncatedSVD(n_components=k, random_state=seed).fit_transform(matrix)
    if method == "pca":
        return reduced[:, :2], "pca"
    if method in ("auto", "umap"):
        try:
            import umap  # noqa: F401  (optional dependency)
        except ImportError:
            if method == "umap":
                raise ConfigError("method 'umap' needs the umap-learn package: pip install umap-learn")
        else:
            reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, n - 1))
            return np.asarray(reducer.fit_transform(reduced)), "umap"
    from sklearn.manifold import TSNE

    # The first 250 iterations are early exaggeration; fewer than ~250 more leave the map
    # collapsed in one blob, so 500 is the floor.
    tsne = TSNE(n_components=2, perplexity=float(min(perplexity, max(1.0, (n - 1) / 3))),
                init="pca", random_state=seed, max_iter=max(500, int(tsne_iter)))
    return tsne.fit_transform(reduced), "tsne"


def _read(spark, source):
    """(DataFrame, path or None, version or None, properties) for a path or a DataFrame."""
    if isinstance(source, (str, os.PathLike)):
        from .delta import read_snapshot

        path = str(source)
        df, version, props = read_snapshot(spark, path)
        return df, path, version, props
    return source, None, None, {}


def nag_map(
    spark,
    pool,
    targets=None,
    *,
    output_dir: str | os.PathLike,
    neuron_type: str = "fwd_up",
    target_filter: tuple[str, Sequence[str]] | None = None,
    per_dataset: int = 200,
    max_points: int = 3000,
    seed: int = 0,
    method: str = "auto",
    tsne_iter: int = 500,
    num_layers: int | None = None,
    n_neurons: int | None = None,
    log_mlflow: bool = True,
    experiment: str | None = None,
    run_name: str | None = None,
) -> NagMap:
    """Sample pool (and target) NAGs in Spark, embed them in 2-D and plot them by dataset.

    Parameters
    ----------
    spark : SparkSession
    pool, targets : str or DataFrame
        Features tables (Delta paths, read at their latest version) or DataFrames.
    output_dir : path-like
        Where ``nag_map.png`` and ``nag_map_points.csv`` go.
    neuron_type : str
        The NAG column to embed.
    target_filter : (column, values), optional
        Keep only these target rows (e.g. ``("dataset", ["hellaswag_train"])``).
    per_dataset, max_points : int
        Sample caps: at most ``per_dataset`` NAGs of a dataset and ``max_points`` in all,
        split between pool and targets in proportion to their quotas.
    seed : int
        Sampling and embedding seed.
    method : {"auto", "tsne", "umap", "pca"}
    tsne_iter : int
        t-SNE iterations (at least 500: the first 250 only exaggerate clusters).
    num_layers, n_neurons : int, optional
        Needed only for DataFrames without table properties (``nag.num_layers``,
        ``nag.n_neurons.<type>``).
    log_mlflow : bool
        Log an MLflow run of kind ``visualize`` with the figure and the points.

    Returns
    -------
    NagMap
    """
    import pandas as pd

    from .plots import plot_nag_map

    pool_df, pool_path, pool_version, props = _read(spark, pool)
    # Targets get their own third of the budget: the map is about where they sit in the pool.
    target_budget = max(1, max_points // 3) if targets is not None else 0
    parts = []
    pool_sample = sample_features(pool_df, neuron_type, per_dataset=per_dataset,
                                  max_points=max(1, max_points - target_budget), seed=seed,
                                  default_dataset="pool")
    pool_sample["is_target"] = False
    parts.append(pool_sample)
    tgt_path = tgt_version = None
    if targets is not None:
        tgt_df, tgt_path, tgt_version, tprops = _read(spark, targets)
        props = props or tprops
        if target_filter is not None:
            col, values = target_filter
            if col not in tgt_df.columns:
                raise InputError(f"target filter column {col!r} is not in the target features")
            tgt_df = tgt_df.where(tgt_df[col].isin(list(values)))
        tgt_sample = sample_features(tgt_df, neuron_type, per_dataset=per_dataset,
                                     max_points=target_budget, seed=seed,
                                     default_dataset="target")
        tgt_sample["is_target"] = True
        parts.append(tgt_sample)
    sample = pd.concat(parts, ignore_index=True)

    layers = num_layers or props.get("nag.num_layers")
    if not layers:
        raise ConfigError("number of layers unknown: pass num_layers (no nag.num_layers table property)")
    neurons = n_neurons or props.get(f"nag.n_neurons.{neuron_type}")
    matrix = nag_matrix(list(sample["nag"]), int(layers), int(neurons) if neurons else None)
    coords, used = embed(matrix, method=method, seed=seed, tsne_iter=tsne_iter)
    points = sample.drop(columns=["nag"]).assign(x=coords[:, 0], y=coords[:, 1])

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}[used]
    title = (f"NAGs ({neuron_type}, {int(layers)} layers) of {int((~points.is_target).sum())} pool "
             f"and {int(points.is_target.sum())} target documents: PCA → {label}")
    if used == "pca":
        title = title.replace("PCA → PCA", "PCA")
    figure = plot_nag_map(coords, list(points["dataset"]), out / "nag_map.png",
                          is_target=list(points["is_target"]), title=title, method=label)
    points.to_csv(out / "nag_map_points.csv", index=False)
    params = {"neuron_type": neuron_type, "per_dataset": per_dataset, "max_points": max_points,
              "seed": seed, "method": used, "tsne_iter": tsne_iter, "n_points": len(points),
              "num_layers": int(layers)}
    log.info("NAG map of %d points (%s) written to %s", len(points), used, figure)
    result = NagMap(points=points, method=used, figure=figure, params=params)
    if log_mlflow:
        result.run_id = _log_run(result, out, experiment, run_name,
                                 inputs=[(pool_path, pool_version, "input"),
                                         (tgt_path, tgt_version, "target")])
    return result


def _log_run(result: NagMap, out: Path, experiment, run_name, inputs) -> str:
    import mlflow

    from .tracking.runs import log_delta_table, start_run

    with start_run("visualize", experiment=experiment, run_name=run_name) as run:
        mlflow.log_params(result.params)
        for path, version, context in inputs:
            if path is not None:
                log_delta_table(path, version, context)
        mlflow.log_artifact(result.figure, artifact_path="plots")
        mlflow.log_artifact(str(out / "nag_map_points.csv"), artifact_path="stats")
        return run.info.run_id
