"""Comparing rank runs side by side: parameters, selection overlap, composition, distances.

Runs come from MLflow (the local store, a tracking server or Databricks: whatever
:func:`~nag_spark.tracking.runs.tracking_uri` points at); their selections are read from
Delta at the exact versions the runs recorded (tags ``nag.output_path`` and
``nag.output_version``), so a table overwritten by later runs still compares correctly.
The pool's composition and the distance histograms come from each run's ``stats/``
artifacts, so the pool itself is never read.

The overlap of all pairs is computed in one Spark job: every docid gets a bit mask of the
runs that selected it, and only the (at most ``2**R``) distinct masks reach the driver.

Examples
--------
>>> report = compare_runs(run_ids=["3f1c...", "9a2b..."], output_dir="compare/")  # doctest: +SKIP
>>> report.jaccard_docids                                                      # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import html
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..errors import InputError, TableError
from ..logs import get_logger
from .runs import KIND_TAG

log = get_logger(__name__)

RANK_KIND = "rank"
COMPARE_KIND = "compare"
OUTPUT_PATH_TAG = "nag.output_path"
OUTPUT_VERSION_TAG = "nag.output_version"
POOL_PATH_TAG = "nag.pool_path"
POOL_VERSION_TAG = "nag.pool_version"
HIST_ARTIFACT = "stats/distance_hist.json"
COMPOSITION_ARTIFACT = "stats/composition.json"
# Bit masks of the runs that selected a docid are longs.
MAX_RUNS = 62
_PROGRESS_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
# Words in Spark/Hadoop errors that mean a data file listed by the Delta log is gone.
_MISSING_FILE_MARKERS = ("FileNotFound", "PATH_NOT_FOUND", "FILE_NOT_EXIST", "does not exist",
                         "No such file")


@dataclass
class RankRun:
    """One rank run as the comparison sees it."""

    run_id: str
    label: str
    name: str
    experiment: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    output_path: str
    output_version: int
    hist: dict | None = None
    composition: dict | None = None

    @property
    def boundaries(self) -> dict[str, float]:
        raw = (self.hist or {}).get("boundary") or {}
        return {str(k): float(v) for k, v in raw.items() if v is not None}


@dataclass
class ComparisonReport:
    """What :func:`compare_runs` produced.

    Attributes
    ----------
    runs : list of RankRun
        The compared runs, in report order.
    params, metrics : pandas.DataFrame
        One column per run label, one row per parameter/metric, those that differ first;
        column ``differs`` says which.
    selection : pandas.DataFrame
        Per run: rows, distinct docids and tokens of the selection table read.
    jaccard_docids, jaccard_tokens : pandas.DataFrame
        Pairwise Jaccard indices (labels × labels).
    composition : pandas.DataFrame
        Share of tokens by dataset (rows): the pool and each run's selection (columns).
    figures : dict of str -> str
        Name -> PNG path in ``output_dir``.
    html : str
        Path of ``report.html``.
    summary : str
        The console summary.
    run_id : str or None
        The MLflow run of kind ``compare`` the report was logged to.
    """

    runs: list[RankRun]
    params: "pandas.DataFrame"  # noqa: F821
    metrics: "pandas.DataFrame"  # noqa: F821
    selection: "pandas.DataFrame"  # noqa: F821
    jaccard_docids: "pandas.DataFrame"  # noqa: F821
    jaccard_tokens: "pandas.DataFrame"  # noqa: F821
    composition: "pandas.DataFrame"  # noqa: F821
    figures: dict[str, str] = field(default_factory=dict)
    html: str = ""
    summary: str = ""
    run_id: str | None = None


# --------------------------------------------------------------------------- MLflow side


@contextlib.contextmanager
def _tracking(uri: str | None) -> Iterator[str]:
    """Point MLflow (and :func:`start_run`) at ``uri`` for the duration, then restore."""
    from .runs import tracking_uri

    old = os.environ.get("MLFLOW_TRACKING_URI")
    old_bar = os.environ.get(_PROGRESS_ENV)
    if uri:
        os.environ["MLFLOW_TRACKING_URI"] = uri
    # Download progress bars for a few small JSON files only clutter the console summary.
    os.environ[_PROGRESS_ENV] = "false"
    try:
        yield tracking_uri()
    finally:
        if old_bar is None:
            os.environ.pop(_PROGRESS_ENV, None)
        else:
            os.environ[_PROGRESS_ENV] = old_bar
        if uri:
            if old is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = old
            tracking_uri()


def _get_runs(client, run_ids: Sequence[str], uri: str) -> list:
    from mlflow.exceptions import MlflowException

    found, missing = [], []
    for rid in dict.fromkeys(r.strip() for r in run_ids if r and r.strip()):
        try:
            found.append(client.get_run(rid))
        except MlflowException as exc:
            # Unknown ids and malformed ids both mean "no such run" to the user.
            missing.append(f"{rid} ({exc.error_code})")
    if missing:
        raise InputError(f"MLflow run(s) not found at {uri}: {', '.join(missing)}")
    return found


def _search_runs(client, experiment: str, last: int | None, uri: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise InputError(f"MLflow experiment {experiment!r} not found at {uri}")
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.\"{KIND_TAG}\" = '{RANK_KIND}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=int(last) if last else MAX_RUNS + 1,
    )
    # Read oldest first: the report then follows the order the runs were made in.
    return list(reversed(runs))


def _check_rank_runs(runs: list) -> None:
    wrong = [f"{r.info.run_id} (nag.kind={r.data.tags.get(KIND_TAG, '<none>')})"
             for r in runs if r.data.tags.get(KIND_TAG) != RANK_KIND]
    if wrong:
        raise InputError(
            "only rank runs can be compared; these runs are of another kind: " + ", ".join(wrong)
        )
    untagged = [r.info.run_id for r in runs
                if not r.data.tags.get(OUTPUT_PATH_TAG) or not r.data.tags.get(OUTPUT_VERSION_TAG)]
    if untagged:
        raise InputError(
            f"rank run(s) {', '.join(untagged)} record no selection table (tags {OUTPUT_PATH_TAG}, "
            f"{OUTPUT_VERSION_TAG}): did the run fail before writing it?"
        )


def _labels(runs: list) -> list[str]:
    names = [r.info.run_name or r.info.run_id[:8] for r in runs]
    return [n if names.count(n) == 1 else f"{n} ({r.info.run_id[:6]})" for n, r in zip(names, runs)]


def _load_json_artifact(client, run_id: str, artifact: str, dst: Path) -> dict | None:
    folder, _, name = artifact.rpartition("/")
    try:
        listed = {a.path for a in client.list_artifacts(run_id, folder)}
    except Exception as exc:  # a store that cannot list is as good as a missing artifact
        log.warning("cannot list artifacts of run %s: %s", run_id, exc)
        return None
    if artifact not in listed:
        log.warning("run %s has no artifact %s; it is left out of that figure", run_id, artifact)
        return None
    local = client.download_artifacts(run_id, artifact, str(dst))
    with open(local, encoding="utf-8") as fh:
        return json.load(fh)


def resolve_runs(run_ids: Sequence[str] | None = None, experiment: str | None = None,
                 last: int | None = None, artifacts_dir: str | os.PathLike | None = None,
                 uri: str | None = None) -> list[RankRun]:
    """The rank runs named by ``run_ids``, or the last ``last`` finished ones of ``experiment``.

    Raises
    ------
    InputError
        Neither or both selectors given, a run id not found, an experiment not found, a run
        that is not a rank run or records no selection table, fewer than two runs.
    """
    import mlflow

    if bool(run_ids) == bool(experiment):
        raise InputError("give either run ids (--runs ID,ID) or an experiment (--experiment NAME)")
    if last is not None and int(last) < 2:
        raise InputError(f"--last must be at least 2 to compare runs, got {last}")
    uri = uri or mlflow.get_tracking_uri()
    client = mlflow.MlflowClient(uri)
    raw = _get_runs(client, run_ids, uri) if run_ids else _search_runs(client, experiment, last, uri)
    if len(raw) < 2:
        where = f"experiment {experiment!r}" if experiment else "--runs"
        raise InputError(f"a comparison needs at least two rank runs; {where} gives {len(raw)}")
    if len(raw) > MAX_RUNS:
        raise InputError(f"at most {MAX_RUNS} runs can be compared at once, got {len(raw)}: use --last")
    _check_rank_runs(raw)
    dst = Path(artifacts_dir or tempfile.mkdtemp(prefix="nag-compare-"))
    exp_names: dict[str, str] = {}
    out = []
    for r, label in zip(raw, _labels(raw)):
        rid = r.info.run_id
        if r.info.experiment_id not in exp_names:
            exp_names[r.info.experiment_id] = client.get_experiment(r.info.experiment_id).name
        try:
            version = int(r.data.tags[OUTPUT_VERSION_TAG])
        except ValueError as exc:
            raise InputError(f"run {rid}: tag {OUTPUT_VERSION_TAG}="
                             f"{r.data.tags[OUTPUT_VERSION_TAG]!r} is not a version number") from exc
        run_dst = dst / rid
        run_dst.mkdir(parents=True, exist_ok=True)
        out.append(RankRun(
            run_id=rid, label=label, name=r.info.run_name or rid, experiment=exp_names[r.info.experiment_id],
            params=dict(r.data.params), metrics=dict(r.data.metrics), tags=dict(r.data.tags),
            output_path=r.data.tags[OUTPUT_PATH_TAG], output_version=version,
            hist=_load_json_artifact(client, rid, HIST_ARTIFACT, run_dst),
            composition=_load_json_artifact(client, rid, COMPOSITION_ARTIFACT, run_dst),
        ))
    return out


# --------------------------------------------------------------------------- Delta/Spark side


def _read_error(where: str, exc: Exception) -> TableError:
    text = str(exc)
    if any(m in text for m in _MISSING_FILE_MARKERS):
        return TableError(
            f"{where} can no longer be read: its data files are gone (the table was vacuumed "
            f"after the run). Re-run the ranking or compare a run whose version still exists "
            f"({text.splitlines()[0][:300]})"
        )
    return TableError(f"{where} cannot be read: {text[:1000]}")


def _read_selection(spark, run: RankRun):
    """The run's selection table at its recorded version, checked readable (not vacuumed)."""
    from pyspark.sql import functions as F

    from ..delta import read_table, table_version

    where = f"selection table {run.output_path} at version {run.output_version} (run {run.label}, {run.run_id})"
    try:
        current = table_version(run.output_path, spark)
    except TableError as exc:
        raise TableError(f"{where}: the table cannot be opened: {exc}") from exc
    if run.output_version > current:
        raise TableError(f"{where}: the table's latest version is {current}")
    try:
        df = read_table(spark, run.output_path, run.output_version)
    except TableError as exc:
        raise TableError(f"{where} no longer exists (log cleaned up?): {exc}") from exc
    except Exception as exc:  # Spark checks parquet paths eagerly: AnalysisException and friends
        raise _read_error(where, exc) from exc
    missing = {"docid", "token_num"} - set(df.columns)
    if missing:
        raise TableError(f"{where} has no column(s) {sorted(missing)}: not a selection table")
    ds = F.col("dataset").cast("string") if "dataset" in df.columns else F.lit("(none)")
    df = df.select(F.col("docid").cast("string").alias("docid"),
                   F.col("token_num").cast("long").alias("token_num"),
                   F.coalesce(ds, F.lit("(none)")).alias("dataset"))
    try:
        # One small action per run: its composition, and proof its files are still there.
        by_ds = df.groupBy("dataset").agg(F.count(F.lit(1)).alias("rows"),
                                          F.sum("token_num").alias("tokens")).collect()
    except Exception as exc:  # Spark's Delta reader finds missing files only when it reads
        raise _read_error(where, exc) from exc
    composition = {r["dataset"]: int(r["tokens"] or 0) for r in by_ds}
    rows = sum(int(r["rows"]) for r in by_ds)
    return df, composition, rows


def overlap_counts(spark, frames: Sequence) -> list[tuple[int, int, int]]:
    """``(mask, docids, tokens)`` for each distinct set of runs that selected a docid.

    ``frames`` are DataFrames with ``docid`` and ``token_num``; bit ``i`` of ``mask`` is
    set when ``frames[i]`` holds the docid. A docid's tokens are its largest ``token_num``
    (the same document in every run that shares a pool).
    """
    from functools import reduce

    from pyspark.sql import functions as F

    tagged = [f.select("docid", "token_num", F.lit(1 << i).cast("long").alias("bit"))
              for i, f in enumerate(frames)]
    union = reduce(lambda a, b: a.unionByName(b), tagged)
    per_doc = union.groupBy("docid").agg(F.expr("bit_or(bit)").alias("mask"),
                                         F.max("token_num").alias("tokens"))
    rows = per_doc.groupBy("mask").agg(F.count(F.lit(1)).alias("docids"),
                                       F.sum("tokens").alias("tokens")).collect()
    return [(int(r["mask"]), int(r["docids"]), int(r["tokens"] or 0)) for r in rows]


def jaccard_from_masks(masks: Sequence[tuple[int, int, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise Jaccard on docids and on tokens from :func:`overlap_counts` output.

    >>> jd, jt = jaccard_from_masks([(0b01, 2, 20), (0b11, 1, 30), (0b10, 1, 50)], 2)
    >>> round(float(jd[0, 1]), 3), round(float(jt[0, 1]), 3)
    (0.25, 0.3)
    """
    jd = np.eye(n)
    jt = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            bi, bj = 1 << i, 1 << j
            inter = [(d, t) for m, d, t in masks if m & bi and m & bj]
            union = [(d, t) for m, d, t in masks if m & bi or m & bj]
            d_u, t_u = sum(d for d, _ in union), sum(t for _, t in union)
            jd[i, j] = jd[j, i] = sum(d for d, _ in inter) / d_u if d_u else 1.0
            jt[i, j] = jt[j, i] = sum(t for _, t in inter) / t_u if t_u else 1.0
    return jd, jt


# --------------------------------------------------------------------------- tables


def side_by_side(values: Mapping[str, Mapping[str, object]]):
    """Keys × runs table with the keys whose values differ first (``differs`` column)."""
    import pandas as pd

    labels = list(values)
    keys = sorted({k for v in values.values() for k in v})
    table = pd.DataFrame({lab: [values[lab].get(k) for k in keys] for lab in labels}, index=keys,
                         dtype=object)
    table.index.name = "name"
    table["differs"] = [len({repr(v) for v in row}) > 1 for row in table[labels].itertuples(index=False)]
    return table.sort_values(["differs"], ascending=False, kind="stable")


def _pool_tokens(runs: Sequence[RankRun]) -> dict[str, float] | None:
    for r in runs:
        pool = (r.composition or {}).get("pool")
        if pool:
            return {str(k): float(v) for k, v in pool.items()}
    return None


# --------------------------------------------------------------------------- report


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em} h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left} tr.differs td{background:#fff6d6}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} pre{background:#f7f7f7;padding:1em}
.note{color:#666;font-size:.9em}
"""


def _html_table(df, float_fmt="{:.4f}", highlight: bool = False) -> str:
    cols = [c for c in df.columns if c != "differs"]
    out = ["<table><tr><th>" + html.escape(str(df.index.name or "")) + "</th>"
           + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>"]
    for key, row in df.iterrows():
        cls = ' class="differs"' if highlight and bool(row.get("differs", False)) else ""
        cells = []
        for c in cols:
            v = row[c]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                text = "—"
            elif isinstance(v, (float, np.floating)):
                text = float_fmt.format(v)
            else:
                text = str(v)
            cells.append(f"<td>{html.escape(text)}</td>")
        out.append(f"<tr{cls}><td>{html.escape(str(key))}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _write_html(report: ComparisonReport, path: Path) -> str:
    runs_rows = "".join(
        f"<tr><td>{html.escape(r.label)}</td><td>{html.escape(r.run_id)}</td>"
        f"<td>{html.escape(r.experiment)}</td><td>{html.escape(r.output_path)}@v{r.output_version}</td>"
        f"<td>{html.escape(', '.join(f'{t}={b:.4f}' for t, b in sorted(r.boundaries.items())) or '—')}</td></tr>"
        for r in report.runs)
    fig = report.figures
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>nag-spark: run comparison</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Comparison of {len(report.runs)} rank runs</h1>",
        f"<pre>{html.escape(report.summary)}</pre>",
        "<h2>Runs</h2><table><tr><th>label</th><th>run id</th><th>experiment</th>"
        f"<th>selection table @ version</th><th>boundary</th></tr>{runs_rows}</table>",
        "<h2>Parameters</h2><p class='note'>Parameters that differ come first (highlighted).</p>",
        _html_table(report.params, highlight=True),
        "<h2>Metrics</h2>", _html_table(report.metrics, highlight=True),
        "<h2>Selections</h2>", _html_table(report.selection, float_fmt="{:,.0f}"),
        "<h2>Overlap (Jaccard)</h2>",
        "<p class='note'>|A ∩ B| / |A ∪ B| over distinct docids, and over their tokens.</p>",
        _html_table(report.jaccard_docids), _html_table(report.jaccard_tokens),
    ]
    for name, caption in (("jaccard", "Overlap"), ("composition", "Composition by dataset"),
                          ("distance", "Distance distributions and selection boundaries")):
        if name in fig:
            parts.append(f"<h2>{caption}</h2><img src='{html.escape(Path(fig[name]).name)}' alt='{caption}'>")
    parts.append("<h2>Composition (share of tokens)</h2>")
    parts.append(_html_table(report.composition * 100, float_fmt="{:.2f}%"))
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return str(path)


def inline_images(page: str, folder: str | os.PathLike) -> str:
    """``page`` with each ``<img src='NAME.png'>`` of ``folder`` embedded as a data URI.

    For viewers that cannot reach the report's folder (Databricks ``displayHTML``, e-mail).
    """
    import base64
    import re

    def embed(match):
        png = Path(folder) / html.unescape(match.group(1))
        if not png.is_file():
            return match.group(0)
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        return f"<img src='data:image/png;base64,{data}'"

    return re.sub(r"<img src='([^':/]+\.png)'", embed, page)


def _summary(runs, selection, jd, jt, comp, params) -> str:
    lines = [f"Compared {len(runs)} rank runs:"]
    for r in runs:
        s = selection.loc[r.label]
        bnd = ", ".join(f"{t}={b:.4f}" for t, b in sorted(r.boundaries.items())) or "n/a"
        lines.append(f"  {r.label} [{r.run_id[:8]}]: {int(s['docids']):,} docs, "
                     f"{int(s['tokens']):,} tokens; boundary {bnd}")
    differ = [k for k, d in params["differs"].items() if d]
    lines.append("Parameters that differ: " + (", ".join(differ) if differ else "none"))
    labels = [r.label for r in runs]
    pairs = [f"{labels[i]} ~ {labels[j]}: {jd[i, j]:.3f} ({jt[i, j]:.3f})"
             for i in range(len(labels)) for j in range(i + 1, len(labels))]
    lines.append("Jaccard on docids (tokens): " + "; ".join(pairs[:10])
                 + (f"; ... {len(pairs) - 10} more pairs" if len(pairs) > 10 else ""))
    if "pool" in comp.columns:
        for lab in labels:
            diff = (comp[lab] - comp["pool"]).sort_values()
            top, low = diff.index[-1], diff.index[0]
            lines.append(f"  {lab}: most over-represented {top} ({diff[top] * 100:+.1f} pt), "
                         f"most under-represented {low} ({diff[low] * 100:+.1f} pt) vs the pool")
    return "\n".join(lines)


def compare_runs(
    run_ids: Sequence[str] | None = None,
    experiment: str | None = None,
    last: int | None = None,
    *,
    output_dir: str | os.PathLike,
    spark=None,
    profile: str = "local",
    tracking_uri: str | None = None,
    log_run: bool = True,
    compare_experiment: str | None = None,
    print_summary: bool = True,
) -> ComparisonReport:
    """Compare rank runs: parameters, overlap, composition and distances, as figures + HTML.

    Parameters
    ----------
    run_ids : sequence of str, optional
        The runs to compare (at least two), in report order.
    experiment : str, optional
        Instead of ``run_ids``: the finished rank runs of this experiment (oldest first).
    last : int, optional
        With ``experiment``: only the ``last`` most recent runs.
    output_dir : path-like
        Where the PNGs, CSVs, ``summary.txt`` and ``report.html`` go.
    spark : SparkSession, optional
        Default: :func:`nag_spark.session.get_spark` with ``profile``.
    tracking_uri : str, optional
        MLflow tracking URI; default ``MLFLOW_TRACKING_URI`` or the local store.
    log_run : bool
        Log everything in ``output_dir`` to a new MLflow run of kind ``compare``.
    compare_experiment : str, optional
        Experiment of that run; default the experiment of the first compared run.
    print_summary : bool
        Print the text summary to stdout.

    Returns
    -------
    ComparisonReport

    Raises
    ------
    InputError
        Missing run ids, runs of another kind, an unknown experiment, fewer than two runs.
    TableError
        A selection table no longer has the recorded version, or its files were vacuumed.
    """
    import pandas as pd

    from ..plots import plot_composition, plot_distance_overlay, plot_jaccard, plot_montage
    from ..plots.composition import token_shares

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _tracking(tracking_uri) as uri:
        with tempfile.TemporaryDirectory(prefix="nag-compare-") as tmp:
            runs = resolve_runs(run_ids, experiment, last, artifacts_dir=tmp, uri=uri)
        if spark is None:
            from ..session import get_spark

            spark = get_spark(profile, app_name="nag-spark compare")
        frames, comps, sel_rows = [], {}, {}
        for r in runs:
            df, comp, rows = _read_selection(spark, r)
            frames.append(df)
            comps[r.label] = comp
            sel_rows[r.label] = rows
        masks = overlap_counts(spark, frames)
        labels = [r.label for r in runs]
        jd, jt = jaccard_from_masks(masks, len(runs))

        selection = pd.DataFrame({
            "rows": [sel_rows[lab] for lab in labels],
            "docids": [sum(d for m, d, _ in masks if m & (1 << i)) for i in range(len(runs))],
            "tokens": [sum(t for m, _, t in masks if m & (1 << i)) for i in range(len(runs))],
        }, index=pd.Index(labels, name="run"))
        params = side_by_side({r.label: r.params for r in runs})
        metrics = side_by_side({r.label: r.metrics for r in runs})
        jd_df = pd.DataFrame(jd, index=pd.Index(labels, name="Jaccard (docids)"), columns=labels)
        jt_df = pd.DataFrame(jt, index=pd.Index(labels, name="Jaccard (tokens)"), columns=labels)
        pool = _pool_tokens(runs)
        series = ({"pool": token_shares(pool)} if pool else {})
        series.update({lab: token_shares(c) for lab, c in comps.items()})
        comp_df = pd.DataFrame(series).fillna(0.0)
        comp_df.index.name = "dataset"
        comp_df = comp_df.sort_values(comp_df.columns[0], ascending=False)

        figures = {"jaccard": plot_jaccard({"docids": jd, "tokens": jt}, labels, out / "jaccard.png")}
        figures["composition"] = plot_composition(
            pool, comps, out / "composition.png",
            title="Composition by dataset: share of tokens, each run's selection vs the pool")
        hists = {r.label: r.hist for r in runs if r.hist}
        if hists:
            figures["distance"] = plot_distance_overlay(hists, out / "distance.png")
        figures["overview"] = plot_montage(
            [[figures[k] for k in ("jaccard", "distance") if k in figures], [figures["composition"]]],
            out / "overview.png", title=f"nag-spark: comparison of {len(runs)} rank runs")

        summary = _summary(runs, selection, jd, jt, comp_df, params)
        report = ComparisonReport(runs=runs, params=params, metrics=metrics, selection=selection,
                                  jaccard_docids=jd_df, jaccard_tokens=jt_df,
                                  composition=comp_df, figures=figures, summary=summary)
        params.to_csv(out / "params.csv")
        metrics.to_csv(out / "metrics.csv")
        selection.to_csv(out / "selection.csv")
        jd_df.to_csv(out / "jaccard_docids.csv")
        jt_df.to_csv(out / "jaccard_tokens.csv")
        comp_df.to_csv(out / "composition.csv")
        (out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
        report.html = _write_html(report, out / "report.html")
        if print_summary:
            print(summary)
            print(f"Report: {report.html}")
        if log_run:
            report.run_id = _log_compare_run(report, out, compare_experiment or runs[0].experiment)
            if print_summary:
                print(f"Logged to MLflow run {report.run_id} ({uri})")
    return report


def _log_compare_run(report: ComparisonReport, out: Path, experiment: str) -> str:
    import mlflow

    from .runs import start_run

    ids = [r.run_id for r in report.runs]
    tags = {"nag.compared_runs": ",".join(ids)}
    with start_run(COMPARE_KIND, experiment=experiment,
                   run_name=f"compare {len(ids)} runs", tags=tags) as run:
        mlflow.log_params({"n_runs": len(ids), "runs": ",".join(r.label for r in report.runs)[:500]})
        labels = [r.label for r in report.runs]
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                # Metric keys allow only a few characters; run indices keep them valid and short.
                mlflow.log_metric(f"jaccard_docids_{i}_{j}", float(report.jaccard_docids.iat[i, j]))
                mlflow.log_metric(f"jaccard_tokens_{i}_{j}", float(report.jaccard_tokens.iat[i, j]))
        mlflow.log_artifacts(str(out), artifact_path="compare")
        return run.info.run_id
