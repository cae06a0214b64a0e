"""Curves and the HTML report (issue 5, section 3: ``--report DIR``)."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

import bcelab
from bcelab.evaluation import curves as C
from bcelab.evaluation.figures import hist_of
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
    return BinaryStats(engine="numpy").update(*data)


def test_roc_curve_area_matches_sklearn_within_the_bound(data, state):
    y, p = data
    fpr, tpr = C.roc_curve(hist_of(state))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    m = state.compute()
    assert abs(area - roc_auc_score(y, p)) <= m.roc_auc_bound + 1e-12
    assert abs(area - m.roc_auc) <= 1e-9  # the figure shows the metric's curve


def test_pr_curve_ends_at_the_base_rate(data, state):
    y, _ = data
    recall, precision = C.pr_curve(hist_of(state))
    assert recall[-1] == 1.0
    assert math.isclose(precision[-1], y.mean(), rel_tol=1e-12)
    assert np.all((precision >= 0) & (precision <= 1))


def test_uniform_reliability_bins_are_exact(data, state):
    # k/15 are exact bin edges of the fine histogram (bcelab.metrics.histogram), so the
    # 15 uniform bins equal a direct binning of the rows.
    y, p = data
    rel = C.reliability(hist_of(state), 15)
    edges = np.arange(16) / 15
    idx = np.searchsorted(edges, p, side="right") - 1
    for k, lo in enumerate(rel.lo):
        b = int(np.searchsorted(edges, lo))
        sel = idx == b
        assert rel.weight[k] == sel.sum()
        assert math.isclose(rel.observed[k], y[sel].mean(), rel_tol=1e-12)
        assert math.isclose(rel.mean_pred[k], p[sel].mean(), rel_tol=1e-12)
    ece = float(np.sum(rel.weight * np.abs(rel.observed - rel.mean_pred)) / rel.weight.sum())
    assert math.isclose(ece, state.compute().ece_uniform, rel_tol=1e-9)


def test_equal_mass_groups_hold_about_equal_weight(state):
    h = hist_of(state)
    rel = C.reliability(h, 15, equal_mass=True)
    target = h.weight.sum() / 15
    assert len(rel.weight) == 15
    # each group misses its share by at most the weight of one fine bin
    assert np.max(np.abs(rel.weight - target)) <= h.weight.max()


def test_histogram_by_label_matches_numpy(data, state):
    y, p = data
    g = C.histogram(hist_of(state), 50)  # multiples of 0.02 are exact edges
    np.testing.assert_allclose(g.edges, np.arange(51) / 50, rtol=0, atol=1e-15)
    counts_pos = np.histogram(p[y == 1], bins=np.arange(51) / 50)[0]
    np.testing.assert_array_equal(g.pos, counts_pos)


@pytest.fixture()
def result(tmp_path, data):
    y, p = data
    seg = np.where(np.arange(y.size) % 3 == 0, "x", "y")
    pq.write_table(pa.table({"y": y, "p": p, "s": seg}), tmp_path / "d.parquet")
    return bcelab.evaluate(tmp_path / "d.parquet", target="y", pred="p", by="s")


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
