"""A 2-D map of NAGs: sample features in Spark, embed on the driver, plot by dataset.

The steps: read the pool (and target) features, refuse targets whose NAGs come from
another model or settings than the pool's, draw a bounded deterministic sample
(:mod:`.nag_sample`), embed it (:mod:`.nag_embedding`: PCA then t-SNE, or UMAP), draw the
figure and, unless asked otherwise, log an MLflow run of kind ``visualize``.

Examples
--------
>>> result = nag_map(spark, NagMapOptions(pool="features/pool",     # doctest: +SKIP
...                                       targets="features/targets", output_dir="viz/"))
>>> result.figure                                                     # doctest: +SKIP
'viz/nag_map.png'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..delta.output_check import check_folder_output, input_pairs
from ..errors import ConfigError
from ..logs import get_logger
from ..tables.nag_codec import index_rows
from ..tracking.runs import check_tracking_store
from ..tracking.visualize_run import log_visualize_run
from .nag_embedding import embed, nag_indicator_matrix, require_viz
from .nag_sample import FeaturesSource, read_features, sample_map_points

log = get_logger(__name__)

_METHOD_LABELS = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}


@dataclass(frozen=True, kw_only=True)
class NagMapOptions:
    """What :func:`nag_map` draws.

    Attributes
    ----------
    pool, targets : str or DataFrame
        Features tables (Delta paths, read at their latest version) or DataFrames;
        ``targets`` is optional.
    output_dir : str
        Where ``nag_map.png`` and ``nag_map_points.csv`` go.
    neuron_type : str
        The NAG column to embed.
    target_filter : (column, values), optional
        Keep only these target rows (e.g. ``("dataset", ("hellaswag_train",))``).
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
    experiment, run_name : str, optional
        That run's experiment (default ``nag-spark``) and name.
    """

    pool: object
    targets: object = None
    output_dir: str
    neuron_type: str = "fwd_up"
    target_filter: tuple[str, Sequence[str]] | None = None
    per_dataset: int = 200
    max_points: int = 3000
    seed: int = 0
    method: str = "auto"
    tsne_iter: int = 500
    num_layers: int | None = None
    n_neurons: int | None = None
    log_mlflow: bool = True
    experiment: str | None = None
    run_name: str | None = None


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
    params : dict
        What the MLflow run records as parameters.
    """

    points: "pandas.DataFrame"  # noqa: F821
    method: str
    figure: str
    run_id: str | None = None
    params: dict = field(default_factory=dict)


def _lineage(pool: FeaturesSource, targets: FeaturesSource | None, neuron_type: str):
    """The lineage that sizes the map: the pool's, else (a bare DataFrame pool) the targets'.

    Raises
    ------
    LineageMismatchError
        Pool and targets hold NAGs of other models or settings (they would share no space).
    """
    pool_lineage = pool.lineage
    if targets is None:
        return pool_lineage
    target_lineage = targets.lineage
    pool_lineage.check_compatible(target_lineage, neuron_type)
    return pool_lineage if pool.properties else target_lineage


def _shape(opts: NagMapOptions, lineage) -> tuple[int, int | None]:
    """(L, N) of the NAGs: given in the options, else from the table properties."""
    layers = opts.num_layers or lineage.num_layers
    if not layers:
        raise ConfigError("number of layers unknown: pass num_layers (no nag.num_layers table property)")
    neurons = opts.n_neurons or lineage.n_neurons.get(opts.neuron_type)
    return int(layers), int(neurons) if neurons else None


def _draw(points, coords, used: str, opts: NagMapOptions, layers: int, out: Path) -> str:
    from ..plots import plot_nag_map

    label = _METHOD_LABELS[used]
    title = (f"NAGs ({opts.neuron_type}, {layers} layers) of {int((~points.is_target).sum())} pool "
             f"and {int(points.is_target.sum())} target documents: PCA → {label}")
    if used == "pca":
        title = title.replace("PCA → PCA", "PCA")
    return plot_nag_map(coords, list(points["dataset"]), out / "nag_map.png",
                        is_target=list(points["is_target"]), title=title, method=label)


def nag_map(spark, opts: NagMapOptions) -> NagMap:
    """Sample pool (and target) NAGs in Spark, embed them in 2-D and plot them by dataset.

    Raises
    ------
    TableError
        An output folder that is a file, a Delta table, an input or not writable.
    ConfigError
        scikit-learn missing (``pip install 'nag-spark[viz]'``), L unknown, a bad method,
        an MLflow store that cannot be written.
    LineageMismatchError
        Targets whose NAGs come from another model or settings than the pool's.
    InputError
        A missing NAG column or target filter column, fewer than 3 NAGs.
    """
    require_viz()  # before any Spark work
    check_folder_output(opts.output_dir, inputs=input_pairs(pool=opts.pool, targets=opts.targets))
    if opts.log_mlflow:
        check_tracking_store()
    pool = read_features(spark, opts.pool)
    targets = read_features(spark, opts.targets) if opts.targets is not None else None
    lineage = _lineage(pool, targets, opts.neuron_type)
    sample = sample_map_points(
        pool.df, targets.df if targets is not None else None, neuron_type=opts.neuron_type,
        target_filter=opts.target_filter, per_dataset=opts.per_dataset,
        max_points=opts.max_points, seed=opts.seed, pool_name=pool.path or "(DataFrame)",
        targets_name=(targets.path or "(DataFrame)") if targets is not None else "")
    layers, neurons = _shape(opts, lineage)
    nags = index_rows(sample["nag"], layers * lineage.top_k if lineage.top_k else None,
                      opts.neuron_type)
    matrix = nag_indicator_matrix(nags, layers, neurons)
    coords, used = embed(matrix, method=opts.method, seed=opts.seed, tsne_iter=opts.tsne_iter)
    points = sample.drop(columns=["nag"]).assign(x=coords[:, 0], y=coords[:, 1])

    out = Path(opts.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    figure = _draw(points, coords, used, opts, layers, out)
    points.to_csv(out / "nag_map_points.csv", index=False)
    params = {"neuron_type": opts.neuron_type, "per_dataset": opts.per_dataset,
              "max_points": opts.max_points, "seed": opts.seed, "method": used,
              "tsne_iter": opts.tsne_iter, "n_points": len(points), "num_layers": layers}
    log.info("NAG map of %d points (%s) written to %s", len(points), used, figure)
    result = NagMap(points=points, method=used, figure=figure, params=params)
    if opts.log_mlflow:
        inputs = [(pool.path, pool.version, "input")]
        if targets is not None:
            inputs.append((targets.path, targets.version, "target"))
        result.run_id = log_visualize_run(params, figure, out / "nag_map_points.csv", inputs,
                                          opts.experiment, opts.run_name)
    return result
