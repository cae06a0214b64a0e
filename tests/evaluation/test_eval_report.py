"""Curves and the HTML report (issue 5, section 3: ``--report DIR``)."""

from __future__ import annotations

import base64
import errno
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

import bcelab
from bcelab._core.atomic import OLD_PREFIX, TMP_PREFIX
from bcelab.errors import OptionError
from bcelab.evaluation import figures
from bcelab.evaluation.report import FIGURES, write_report
from bcelab.metrics import BinaryStats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    z = rng.normal(-0.5, 1.5, 40_000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-z))).astype(np.float64)
    p = 1 / (1 + np.exp(-(1.2 * z + 0.2)))
    return y, p


@pytest.fixture(scope="module")
def state(data: tuple[np.ndarray, np.ndarray]) -> BinaryStats:
    y, p = data
    return BinaryStats(kernel="numpy").update(p, y)


def _line(fig: object, i: int) -> np.ndarray:
    return np.asarray(fig.axes[0].lines[i].get_xydata())  # type: ignore[attr-defined]


def test_roc_figure_shows_the_metric_curve(data, state):
    y, p = data
    m = state.compute()
    xy = _line(figures.roc(state, m), 1)  # line 0 is the diagonal
    fpr, tpr = xy[:, 0], xy[:, 1]
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert abs(area - m.roc_auc) <= 1e-9
    assert abs(area - roc_auc_score(y, p)) <= m.roc_auc_bound + 1e-12


def test_pr_figure_ends_at_the_base_rate(data, state):
    y, _ = data
    xy = _line(figures.pr(state, state.compute()), 0)
    assert xy[-1, 0] == 1.0
    assert math.isclose(xy[-1, 1], y.mean(), rel_tol=1e-12)
    assert np.all((xy[:, 1] >= 0) & (xy[:, 1] <= 1))


def test_reliability_figure_points_are_the_exact_bins(data, state):
    # k/15 are exact bin edges of the fine histogram (bcelab.metrics.histogram), so the
    # 15 uniform points equal a direct binning of the rows.
    y, p = data
    m = state.compute()
    fig = figures.reliability(state, m)
    xy = _line(fig, 1)
    edges = np.arange(16) / 15
    idx = np.searchsorted(edges, p, side="right") - 1
    counts = np.bincount(idx, minlength=15)
    expected = [(p[idx == b].mean(), y[idx == b].mean()) for b in range(15) if counts[b]]
    np.testing.assert_allclose(xy[~np.isnan(xy[:, 0])], expected, rtol=1e-12)
    ece = (
        sum(c * abs(py - pp) for c, (pp, py) in zip(counts[counts > 0], expected, strict=True))
        / counts.sum()
    )
    assert math.isclose(ece, m.ece_uniform, rel_tol=1e-9)
    # the bars below the diagram are the row counts per bin
    bars = fig.axes[1].patches
    tops = [b.get_y() + b.get_height() for b in bars]
    np.testing.assert_array_equal(tops, counts[counts > 0])
    np.testing.assert_allclose([b.get_x() for b in bars], edges[:-1][counts > 0], atol=1e-15)
    # the bars start at or below the axis floor, so their heights are visible
    assert all(b.get_y() <= fig.axes[1].get_ylim()[0] + 1e-12 for b in bars)


def test_score_histogram_figure_matches_numpy(data, state):
    y, p = data
    ax = figures.histograms(state, state.compute()).axes[0]
    _neg, _, pos, _ = ax.patches  # outline and fill for each label
    dens, edges, _ = pos.get_data()
    np.testing.assert_allclose(edges, np.arange(51) / 50, atol=1e-15)
    counts = np.histogram(p[y == 1], bins=np.arange(51) / 50)[0]
    np.testing.assert_allclose(dens * np.diff(edges) * (y == 1).sum(), counts, rtol=1e-12)


@pytest.fixture()
def result(tmp_path, data):
    y, p = data
    seg = np.where(np.arange(y.size) % 3 == 0, "x", "y")
    pq.write_table(pa.table({"y": y, "p": p, "s": seg}), tmp_path / "d.parquet")
    return bcelab.evaluate(tmp_path / "d.parquet", preds="p", target="y", by="s")


def test_decomposition_figure_of_an_infinite_log_loss_draws_its_finite_parts():
    # hard predictions, some wrong: the bars show uncertainty and discrimination, the
    # infinite miscalibration runs on as an arrow, and the caption names the ranking's loss
    from bcelab.evaluation.decomp_figure import decomposition_figure
    from bcelab.metrics import decompose_stats

    p = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    s = BinaryStats().update(p, y)
    d = decompose_stats(s)
    bars = decomposition_figure(s, s.compute(), decomposition=d).axes[1]
    labels = [t.get_text() for t in bars.texts]
    assert labels == [f"{d.log_loss.uncertainty:.4g}", f"{-d.log_loss.discrimination:+.4g}",
                      "+inf →", "inf →"]  # fmt: skip
    rest = d.log_loss.uncertainty - d.log_loss.discrimination
    assert f"bring it down to the ranking's {rest:.4g}" in bars.get_xlabel()
    widths = [b.get_width() for b in bars.patches]
    assert all(math.isfinite(w) and w >= 0 for w in widths)


def test_report_files(tmp_path, result):
    out = tmp_path / "report"
    written = write_report(result, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["metrics.json", "report.html", *(f"{s}.png" for s in FIGURES)]
    )
    assert set(written) == {p.name for p in out.iterdir()}
    assert json.loads((out / "metrics.json").read_text()) == json.loads(
        json.dumps(result.to_dict())
    )
    html = (out / "report.html").read_text()
    for stem in FIGURES:
        png = (out / f"{stem}.png").read_bytes()
        assert png.startswith(PNG_MAGIC)
        assert base64.b64encode(png).decode() in html  # the same figure, inline
    assert "src='http" not in html and "<script" not in html  # self-contained, static
    assert "By s</h2>" in html and f"{result.rows:,}" in html
    assert f"{result.metrics.log_loss:.6g}" in html


def test_report_failure_leaves_old_files_whole(tmp_path, result, monkeypatch):
    out = tmp_path / "report"
    write_report(result, out)
    before = (out / "report.html").read_bytes()

    def boom(*a: object, **k: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr("bcelab.evaluation.report.render_html", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(result, out)
    assert (out / "report.html").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _report_tree(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_a_failed_write_leaves_the_previous_report_whole(tmp_path, result, monkeypatch):
    out = tmp_path / "report"
    write_report(result, out)
    before = _report_tree(out)
    calls: list[str] = []
    real = bcelab.evaluation.report.atomic_open

    def fail_on_third(path: object, mode: str = "w") -> object:
        calls.append(str(path))
        if len(calls) == 3:  # metrics.json and one figure are written by then
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, mode)

    monkeypatch.setattr("bcelab.evaluation.report.atomic_open", fail_on_third)
    with pytest.raises(OSError, match="No space left"):
        write_report(result, out)
    assert len(calls) == 3
    assert _report_tree(out) == before  # the old report, complete and unmixed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial


def test_report_replaces_a_previous_report_whole(tmp_path, result):
    out = tmp_path / "report"
    write_report(result, out)
    (out / "roc.png").unlink()  # an incomplete old report is still a report folder
    written = write_report(result, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_report_never_replaces_a_folder_with_other_files(tmp_path, result):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")
    with pytest.raises(OptionError, match=r"directory must be a new folder.*thesis\.tex"):
        write_report(result, out)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_stale_folders_of_a_killed_run_are_removed(tmp_path, result):
    out = tmp_path / "report"
    write_report(result, out)
    before = _report_tree(out)
    dead = 2**22 + 12345  # above the usual pid_max: no such process
    old = time.time() - 3600
    tmp = tmp_path / f"{TMP_PREFIX}report.{dead}.abc123"
    tmp.mkdir()
    (tmp / "metrics.json").write_text("{}")
    aside = tmp_path / f"{OLD_PREFIX}other.{dead}.def456"  # killed between the two renames
    aside.mkdir()
    (aside / "report.html").write_text("old")
    alive = tmp_path / f"{TMP_PREFIX}report.{os.getpid()}.ghi789"  # this process: kept
    alive.mkdir()
    for p in (tmp, aside, alive):
        os.utime(p, (old, old))
    write_report(result, out)
    assert not tmp.exists() and not aside.exists() and alive.exists()
    assert (tmp_path / "other" / "report.html").read_text() == "old"  # put back
    assert _report_tree(out).keys() == before.keys()


def test_notebook_view_is_escaped_and_self_contained(tmp_path, data):
    y, p = data
    seg = np.where(np.arange(y.size) % 2 == 0, "<b>x</b>", "y & z")
    res = bcelab.evaluate({"y": y, "p": p, "s": seg}, preds="p", target="y", by="s")
    page = res._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "y &amp; z" in page and "<b>x</b>" not in page
    assert "http" not in page and "<script" not in page and "<img" not in page
    assert f"{res.metrics.log_loss:.6g}" in page and "binning error ≤" in page
    assert "±" not in page


def test_the_excluded_rows_line_counts_in_words() -> None:
    from bcelab.evaluation.markup import counts

    base = {"rows": 4, "rows_used": 3, "weight_total": 3.0, "nan_predictions": 0}
    cols = {"columns": {"positive_label": None}}
    one = counts(
        {
            **cols,
            "metrics": {**base, "rows_excluded": 1, "invalid_targets": 1, "clipped_predictions": 1},
        }
    )
    assert "1 row excluded" in one and "1 prediction clipped" in one
    two = counts(
        {
            **cols,
            "metrics": {**base, "rows_excluded": 2, "invalid_targets": 2, "clipped_predictions": 0},
        }
    )
    assert "2 rows excluded" in two and "0 predictions clipped" in two


def test_an_infinite_log_loss_reads_inf_in_the_report_not_na(tmp_path: Path) -> None:
    # a p of exactly 0 for a positive: the text said inf, the page n/a (its JSON null),
    # and the segment legend called the infinite NE undefined for want of a class
    from bcelab.evaluation.markup import notebook_view

    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, 600)
    y = (rng.random(600) < p).astype(np.float64)
    p[0], y[0] = 0.0, 1.0
    seg = np.where(np.arange(600) % 2 == 0, "a", "b")
    res = bcelab.evaluate({"p": p, "y": y, "s": seg}, preds="p", target="y", by="s")
    page = write_report(res, tmp_path / "rep")["report.html"].read_text()
    for label, text in (("log loss", "inf"), ("NE", "inf"), ("RIG", "-inf"), ("excess KL", "inf")):
        assert f"<tr><th>{label}</th><td class=num>{text}" in page, label
    assert "<tr><th>a</th><td class=num>300</td><td class=num>inf</td><td class=num>inf" in page
    assert "n/a" not in page and "n/a" not in notebook_view(res.to_dict())
    assert "<tr><th>miscalibration</th><td class=num>inf</td>" in page
