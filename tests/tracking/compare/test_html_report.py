"""report.html: tables with differing rows highlighted, figures linked, images inlined."""
from __future__ import annotations

import pandas as pd

from nag_spark.tracking.compare.html_report import html_table, inline_images


def test_inline_images(tmp_path):
    from nag_spark.tracking.compare import inline_images

    (tmp_path / "a.png").write_bytes(b"\x89PNG fake")
    page = "<img src='a.png' alt='x'><img src='missing.png'><img src='http://h/b.png'>"
    out = inline_images(page, tmp_path)
    assert "data:image/png;base64," in out and "src='missing.png'" in out and "http://h/b.png" in out


def test_html_table_escapes_and_highlights():
    df = pd.DataFrame({"a": ["<b>", "1"], "differs": [True, False]},
                      index=pd.Index(["x&y", "z"], name="name"))
    page = html_table(df, highlight=True)
    assert "<th>differs</th>" not in page and "&lt;b&gt;" in page and "x&amp;y" in page
    assert page.count('class="differs"') == 1
    assert 'class="differs"' not in html_table(df)


def test_inline_images_leaves_a_page_without_images_alone(tmp_path):
    assert inline_images("<p>no figures</p>", tmp_path) == "<p>no figures</p>"
