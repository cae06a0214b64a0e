"""The comparison's HTML tables and notebook view (bcelab.evaluation.compare_markup)."""

from __future__ import annotations

from bcelab.evaluation import compare
from bcelab.evaluation.compare_report import render_html

from .compare_data import REPS, table


def test_the_notebook_view_has_the_segments_and_the_report_tables() -> None:
    # the view dropped the segment table its own note counted ("and 3 segments"), had no
    # style of its own and left out the better direction and the standard error
    res = compare(table(6000), preds=("a", "b"), target="y", by="g", replicates=REPS)
    view, page = res._repr_html_(), render_html(res, {})
    assert view.startswith("<div class=bcelab-eval><style>") and "<script" not in view
    assert "<b>By g</b>" in view and "<h2>By g</h2>" in page
    for value in ("<th>x</th>", "<th>y</th>", "<th>z</th>", "SE (bootstrap)", "closer to 1"):
        assert value in view and value in page, value
    assert "3 segments" in view
