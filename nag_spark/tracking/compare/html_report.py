"""The comparison as one self-contained HTML page (``report.html``) beside its figures."""
from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

import numpy as np

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em} h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left} tr.differs td{background:#fff6d6}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} pre{background:#f7f7f7;padding:1em}
.note{color:#666;font-size:.9em}
"""

# The figures the page shows, in order, with their captions.
_FIGURES = (("jaccard", "Overlap"), ("composition", "Composition by dataset"),
            ("distance", "Distance distributions and selection boundaries"))


def _cell(v, float_fmt: str) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if isinstance(v, (float, np.floating)):
        return float_fmt.format(v)
    return str(v)


def html_table(df, float_fmt: str = "{:.4f}", highlight: bool = False) -> str:
    """``df`` as an HTML table; with ``highlight``, rows whose ``differs`` is true are marked.

    >>> import pandas as pd
    >>> print(html_table(pd.DataFrame({"a": [0.5, None]}, index=pd.Index(["x", "y"], name="k"))))
    <table><tr><th>k</th><th>a</th></tr>
    <tr><td>x</td><td>0.5000</td></tr>
    <tr><td>y</td><td>—</td></tr>
    </table>
    """
    cols = [c for c in df.columns if c != "differs"]
    out = ["<table><tr><th>" + html.escape(str(df.index.name or "")) + "</th>"
           + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>"]
    for key, row in df.iterrows():
        cls = ' class="differs"' if highlight and bool(row.get("differs", False)) else ""
        cells = "".join(f"<td>{html.escape(_cell(row[c], float_fmt))}</td>" for c in cols)
        out.append(f"<tr{cls}><td>{html.escape(str(key))}</td>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _runs_table(runs) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.label)}</td><td>{html.escape(r.run_id)}</td>"
        f"<td>{html.escape(r.experiment)}</td><td>{html.escape(r.output_path)}@v{r.output_version}</td>"
        f"<td>{html.escape(', '.join(f'{t}={b:.4f}' for t, b in sorted(r.boundaries.items())) or '—')}</td></tr>"
        for r in runs)
    return ("<h2>Runs</h2><table><tr><th>label</th><th>run id</th><th>experiment</th>"
            f"<th>selection table @ version</th><th>boundary</th></tr>{rows}</table>")


def write_html(report, path: str | os.PathLike) -> str:
    """Write the page of a :class:`~nag_spark.tracking.compare.report.ComparisonReport`;
    figures are linked by file name (they sit in the same folder). Returns the path."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>nag-spark: run comparison</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Comparison of {len(report.runs)} rank runs</h1>",
        f"<pre>{html.escape(report.summary)}</pre>",
        _runs_table(report.runs),
        "<h2>Parameters</h2><p class='note'>Parameters that differ come first (highlighted).</p>",
        html_table(report.params, highlight=True),
        "<h2>Metrics</h2>", html_table(report.metrics, highlight=True),
        "<h2>Selections</h2>", html_table(report.selection, float_fmt="{:,.0f}"),
        "<h2>Overlap (Jaccard)</h2>",
        "<p class='note'>|A ∩ B| / |A ∪ B| over distinct docids, and over their tokens.</p>",
        html_table(report.jaccard_docids), html_table(report.jaccard_tokens),
    ]
    for name, caption in _FIGURES:
        if name in report.figures:
            src = html.escape(Path(report.figures[name]).name)
            parts.append(f"<h2>{caption}</h2><img src='{src}' alt='{caption}'>")
    parts.append("<h2>Composition (share of tokens)</h2>")
    parts.append(html_table(report.composition * 100, float_fmt="{:.2f}%"))
    parts.append("</body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
    return str(path)


def inline_images(page: str, folder: str | os.PathLike) -> str:
    """``page`` with each ``<img src='NAME.png'>`` of ``folder`` embedded as a data URI.

    For viewers that cannot reach the report's folder (Databricks ``displayHTML``, e-mail).
    Images that are not in ``folder`` (absent files, URLs) are left as they are.

    >>> inline_images("<img src='nowhere.png'>", ".")
    "<img src='nowhere.png'>"
    """

    def embed(match):
        png = Path(folder) / html.unescape(match.group(1))
        if not png.is_file():
            return match.group(0)
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        return f"<img src='data:image/png;base64,{data}'"

    return re.sub(r"<img src='([^':/]+\.png)'", embed, page)
