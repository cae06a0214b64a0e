"""``evaluate``: the decomposition, recalibration (``recalibrate=``, ``fit_on=``) and
negative downsampling (``negative_rate=``).

The reference for Platt scaling is scikit-learn's ``LogisticRegression`` without
penalty, fitted in memory on logit(p); the reference for ``negative_rate`` is an
explicit weight column of 1/W on the negatives.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.errors import DataError, OptionError
from bcelab.metrics import (
    BinaryStats,
    DownsamplingMap,
    decompose_stats,
    fit_isotonic,
    fit_platt,
    fit_temperature,
)

N = 40_000


def _rows(seed: int, n: int = N, scale: float = 2.0) -> dict[str, np.ndarray]:
    """Over-confident predictions (logits ``scale`` x the truth), weights and a segment."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n) * 1.5
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    return {
        "y": y,
        "p": 1 / (1 + np.exp(-scale * z)),
        "z": scale * z,
        "w": rng.uniform(0.5, 2.0, n),
        "g": rng.choice(np.array(["a", "b", "c"]), n),
    }


@pytest.fixture(scope="module")
def rows() -> dict[str, np.ndarray]:
    return _rows(0)


@pytest.fixture(scope="module")
def files(tmp_path_factory, rows):
    d = tmp_path_factory.mktemp("recal")
    t = pa.table(rows)
    for i in range(4):  # four files of a quarter each: several units
        pq.write_table(t.slice(i * N // 4, N // 4), d / f"part-{i}.parquet", row_group_size=4_000)
    calib = _rows(1, n=15_000, scale=1.5)
    pq.write_table(pa.table(calib), d / "calib.parquet")
    return d, calib


def test_decomposition_overall_and_per_segment(rows):
    res = bcelab.evaluate(rows, preds="p", target="y", weight="w", by="g")
    d = res.to_dict()
    for dec, m, stats in [(d["decomposition"], d["metrics"], res.stats)] + [
        (s["decomposition"], s["metrics"], seg.stats)
        for s, seg in zip(d["segments"], res.segments, strict=True)
    ]:
        ll, bs = dec["log_loss"], dec["brier"]
        assert set(ll) == {"score", "uncertainty", "discrimination", "miscalibration", "bound"}
        for t, score in ((ll, m["log_loss"]), (bs, m["brier"])):
            assert t["score"] == score
            identity = t["uncertainty"] - t["discrimination"] + t["miscalibration"]
            assert identity == pytest.approx(score, abs=1e-9)
            assert t["discrimination"] >= 0 and t["miscalibration"] >= 0 and t["bound"] > 0
        base = m["base_rate"]
        assert ll["uncertainty"] == pytest.approx(
            -base * math.log(base) - (1 - base) * math.log1p(-base), abs=1e-12
        )
        assert dec == decompose_stats(stats).to_dict()
    frame = res.to_frame()
    assert frame.column("decomposition.log_loss.miscalibration").to_pylist() == [
        s["decomposition"]["log_loss"]["miscalibration"] for s in d["segments"]
    ]


def test_platt_on_the_evaluated_rows_is_the_logistic_regression(rows):
    linear_model = pytest.importorskip("sklearn.linear_model")
    res = bcelab.evaluate(rows, preds="p", target="y", recalibrate="platt")
    rec = res.recalibration
    assert rec is not None and rec.fitted_on is None and rec.fit_rows == N
    assert 3 <= rec.passes <= 12
    assert rec.metrics.calibration == pytest.approx(1.0, abs=1e-6)
    lr = linear_model.LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000)
    x = np.log(rows["p"] / (1 - rows["p"]))[:, None]
    q = lr.fit(x, rows["y"]).predict_proba(x)[:, 1]
    ref = -np.mean(rows["y"] * np.log(q) + (1 - rows["y"]) * np.log1p(-q))
    assert rec.metrics.log_loss == pytest.approx(ref, abs=1e-7)
    # the streaming fit is the in-memory one: same Newton steps on the same sums
    mem = fit_platt(rows["p"], rows["y"])
    assert rec.recalibration_map.params == pytest.approx(mem.params, rel=1e-9, abs=1e-12)
    direct = BinaryStats().update(mem.apply(rows["p"]), rows["y"]).compute()
    assert rec.metrics.log_loss == pytest.approx(direct.log_loss, abs=1e-12)
    # a monotone map keeps the ranking: the discrimination cannot move
    after = decompose_stats(rec.stats).log_loss
    assert after.discrimination == pytest.approx(
        res.decomposition.log_loss.discrimination, abs=2e-3
    )
    assert after.miscalibration < 0.1 * res.decomposition.log_loss.miscalibration


def test_fit_on_uses_only_the_calibration_rows(files, rows):
    d, calib = files
    parts = sorted(str(p) for p in d.glob("part-*.parquet"))
    kw = {"preds": "p", "target": "y", "weight": "w", "recalibrate": "platt"}
    res = bcelab.evaluate(parts, fit_on=d / "calib.parquet", **kw)
    rec = res.recalibration
    assert rec.fitted_on == (str(d / "calib.parquet"),) and rec.fit_rows == 15_000
    mem = fit_platt(calib["p"], calib["y"], weights=calib["w"])
    assert rec.recalibration_map.params == pytest.approx(mem.params, rel=1e-9)
    own = fit_platt(rows["p"], rows["y"], weights=rows["w"])
    assert rec.recalibration_map.params["a"] != pytest.approx(own.params["a"], rel=1e-3)
    # the evaluated rows do not enter the fit: another half of them, the same map
    half = bcelab.evaluate(parts[:2], fit_on=d / "calib.parquet", **kw)
    assert half.recalibration.recalibration_map == rec.recalibration_map
    # the metrics after it are those of the map applied to the evaluated rows
    q = rec.recalibration_map.apply(rows["p"])
    direct = BinaryStats().update(q, rows["y"], weights=rows["w"]).compute()
    assert rec.metrics.log_loss == pytest.approx(direct.log_loss, rel=1e-12)
    # fit_on also takes a table
    table = bcelab.evaluate(parts, fit_on=calib, **kw)
    assert table.recalibration.recalibration_map == rec.recalibration_map


def test_a_calibration_set_holding_evaluated_files_is_named_in_sample(files, tmp_path):
    d, calib = files
    parts = sorted(str(p) for p in d.glob("part-*.parquet"))
    kw = {"preds": "p", "target": "y", "weight": "w", "recalibrate": "isotonic"}
    apart = bcelab.evaluate(parts, fit_on=d / "calib.parquet", **kw)
    assert apart.recalibration.evaluated_in_fit == ()
    assert "in-sample" not in str(apart) and "in-sample" not in html_of(apart, tmp_path)
    # the folder holds the calibration file and the evaluated parts; a link is the file
    link = tmp_path / "same.parquet"
    link.symlink_to(parts[0])
    for fit_on, shared in ((d, parts), (link, parts[:1])):
        res = bcelab.evaluate(parts, fit_on=fit_on, **kw)
        assert res.recalibration.evaluated_in_fit == tuple(shared)
        assert res.to_dict()["recalibrated"]["evaluated_in_fit"] == shared
        text = str(res)
        assert (
            f"in-sample: the calibration set holds the rows of the evaluated {', '.join(shared)}, so"
            in text
        )
        assert "the after column flatters it" in html_of(res, tmp_path)
        # the note does not change the numbers: a map fitted on those rows, scored on them
        assert res.recalibration.metrics.log_loss < apart.recalibration.metrics.log_loss
    # an in-memory calibration table shares no file; the evaluated table itself is named
    table = bcelab.evaluate(parts, fit_on=calib, **kw)
    assert table.recalibration.evaluated_in_fit == ()
    same = bcelab.evaluate(calib, fit_on=calib, **kw)
    assert same.recalibration.evaluated_in_fit == ("dict of arrays",)
    assert "holds the rows of the evaluated dict of arrays, so" in str(same)
    assert bcelab.evaluate(calib, fit_on=dict(calib), **kw).recalibration.evaluated_in_fit == ()


def test_a_fit_on_table_without_the_columns_is_named_as_the_fit_on_table() -> None:
    # the evaluated rows and the calibration rows can both be a dict of arrays: the
    # error says which one lacks the column
    rows = {"y": [0.0, 1.0, 1.0, 0.0], "p": [0.2, 0.7, 0.9, 0.4]}
    with pytest.raises(DataError, match=r"^fit_on: columns \['y', 'p'\] in dict of arrays"):
        bcelab.evaluate(rows, preds="p", target="y", recalibrate="platt", fit_on={"y": [0.0]})


def html_of(res, tmp_path) -> str:
    from bcelab.evaluation.report import write_report

    written = write_report(res, tmp_path / f"report-{len(list(tmp_path.iterdir()))}")
    return html.unescape(written["report.html"].read_text())


def test_isotonic_temperature_and_segments(rows):
    res = bcelab.evaluate(rows, logits="z", target="y", by="g", recalibrate="isotonic")
    rec = res.recalibration
    iso = fit_isotonic(res.stats)
    assert rec.passes == 0 and rec.recalibration_map.params == iso.params
    q = iso.apply(rows["z"], logits=True)
    direct = BinaryStats().update(q, rows["y"]).compute()
    assert rec.metrics.log_loss == pytest.approx(direct.log_loss, rel=1e-12)
    for seg in res.segments:
        m = rows["g"] == seg.value
        ref = BinaryStats().update(q[m], rows["y"][m]).compute()
        assert seg.recalibrated.log_loss == pytest.approx(ref.log_loss, rel=1e-12)
    # isotonic in-sample removes the measured miscalibration
    assert rec.metrics.log_loss == pytest.approx(
        res.metrics.log_loss - res.decomposition.log_loss.miscalibration, abs=1e-9
    )
    temp = bcelab.evaluate(rows, logits="z", target="y", recalibrate="temperature")
    mem = fit_temperature(rows["z"], rows["y"], logits=True)
    assert temp.recalibration.recalibration_map.params == pytest.approx(mem.params, rel=1e-9)


@pytest.mark.parametrize("method", ["platt", "temperature", "isotonic"])
def test_a_map_that_keeps_the_order_explains_a_moved_roc_auc(rows, method):
    from bcelab.evaluation.markup import recalibration_table
    from bcelab.evaluation.text import render

    res = bcelab.evaluate(rows, preds="p", target="y", recalibrate=method)
    before, after = res.metrics.roc_auc, res.recalibration.metrics.roc_auc
    text, page = render(res), recalibration_table(res.to_dict())
    if method == "isotonic":  # ties in its steps: a real change, explained by nothing
        assert after != before and "keeps the predictions' order" not in text + page
        return
    assert abs(after - before) <= res.metrics.roc_auc_bound  # binning only
    note = f"ROC-AUC: a {method} map keeps the predictions' order, so the true ROC-AUC"
    shown_apart = f"{after:.6g}" != f"{before:.6g}"  # as the table shows them
    assert shown_apart == (method == "platt")  # these rows: 0.815564 -> 0.815568 for Platt
    assert (note in text) == shown_apart and (html.escape(note) in page) == shown_apart
    assert (f"the {abs(after - before):.2g} between the two" in text) == shown_apart
    # a Platt map that reverses the order keeps nothing
    from bcelab.evaluation.text import order_note

    params = {"a": -1.0, "b": 0.0}
    assert order_note("platt", params, {"roc_auc": 0.8}, {"roc_auc": 0.2}) is None


def test_negative_rate_equals_an_explicit_weight_column(rows):
    w_rate = 0.2
    neg = rows["y"] == 0
    explicit = {
        **rows,
        "nw": np.where(neg, 1 / w_rate, 1.0),
        "ww": rows["w"] / np.where(neg, w_rate, 1),
    }
    for weight, ref_weight in ((None, "nw"), ("w", "ww")):
        kw = {"preds": "p", "target": "y", "by": "g"}
        got = bcelab.evaluate(rows, weight=weight, negative_rate=w_rate, **kw)
        ref = bcelab.evaluate(explicit, weight=ref_weight, **kw)
        a, b = got.to_dict(), ref.to_dict()
        assert a["negative_rate"] == w_rate and "negative_rate" not in b
        for x, y in [(a["metrics"], b["metrics"])] + [
            (s["metrics"], t["metrics"]) for s, t in zip(a["segments"], b["segments"], strict=True)
        ]:
            for key, v in x.items():
                if isinstance(v, float):
                    assert v == pytest.approx(y[key], rel=1e-12, abs=1e-12), key
                else:
                    assert v == y[key], key


def test_downsampling_map_with_the_negative_rate(rows):
    rate = 0.25
    res = bcelab.evaluate(
        rows, preds="p", target="y", negative_rate=rate, recalibrate="downsampling"
    )
    rec = res.recalibration
    assert rec.recalibration_map == DownsamplingMap(rate) and rec.passes == 0
    w = np.where(rows["y"] == 0, 1 / rate, 1.0)
    q = DownsamplingMap(rate).apply(rows["p"])
    ref = BinaryStats().update(q, rows["y"], weights=w).compute()
    assert rec.metrics.log_loss == pytest.approx(ref.log_loss, rel=1e-12)
    assert rec.metrics.calibration == pytest.approx(ref.calibration, rel=1e-12)


def test_clip_applies_before_and_after_the_map():
    rng = np.random.default_rng(5)
    p = rng.random(5_000)
    p[:10] = 0.0  # a wrong 0 would make the log loss infinite without the clip
    y = (rng.random(p.size) < 0.3).astype(float)
    y[:10] = 1.0
    res = bcelab.evaluate({"p": p, "y": y}, preds="p", target="y", clip=1e-4, recalibrate="platt")
    m = res.recalibration.recalibration_map
    q = m.apply(np.clip(p, 1e-4, 1 - 1e-4))
    ref = BinaryStats().update(q, y, clip=1e-4).compute()
    assert res.recalibration.metrics.log_loss == pytest.approx(ref.log_loss, rel=1e-12)
    assert math.isfinite(res.recalibration.metrics.log_loss)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"recalibrate": "spline"}, OptionError, "recalibrate must be one of"),
        ({"fit_on": "calib.parquet"}, OptionError, "fit_on= only with recalibrate="),
        ({"recalibrate": "downsampling"}, OptionError, "with negative_rate="),
        (
            {"recalibrate": "downsampling", "negative_rate": 0.1, "fit_on": "c.parquet"},
            OptionError,
            "no fit_on= with recalibrate='downsampling'",
        ),
        ({"negative_rate": 0.0}, OptionError, "negative_rate must be a number in (0, 1]"),
        ({"negative_rate": 1.5}, OptionError, "negative_rate must be a number in (0, 1]"),
        ({"recalibrate": "platt", "fit_on": "nowhere.parquet"}, DataError, "fit_on must name"),
    ],
)
def test_options_are_checked_before_any_file_is_read(tmp_path, kwargs, error, message):
    missing = tmp_path / "never-read.parquet"  # reading it would be a DataError
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        bcelab.evaluate(missing, preds="p", target="y", **kwargs)


def test_a_stream_is_read_once_so_it_cannot_be_recalibrated(rows):
    table = pa.table({"p": rows["p"], "y": rows["y"]})
    with pytest.raises(OptionError, match="read more than once"):
        bcelab.evaluate(table.to_reader(), preds="p", target="y", recalibrate="isotonic")
    with pytest.raises(OptionError, match="fit_on must be a source"):
        bcelab.evaluate(table, preds="p", target="y", recalibrate="platt", fit_on=table.to_reader())


def test_a_calibration_file_without_the_columns_fails_before_the_evaluation(tmp_path, rows):
    pq.write_table(pa.table({"p": rows["p"][:100]}), tmp_path / "calib.parquet")
    seen: list[int] = []
    with pytest.raises(DataError, match=r"columns \['y', 'p'\]"):
        bcelab.evaluate(
            rows,
            preds="p",
            target="y",
            recalibrate="platt",
            fit_on=tmp_path / "calib.parquet",
            progress=lambda done, total: seen.append(done),
        )
    assert seen == []  # no evaluated row was read
    with pytest.raises(OptionError, match="fit_on must be a path"):
        bcelab.evaluate(rows, preds="p", target="y", recalibrate="platt", fit_on=42)


def test_an_isotonic_map_without_a_usable_row_says_which_rows(tmp_path, rows):
    nan = np.full(50, np.nan, dtype=np.float32)
    pq.write_table(pa.table({"y": np.ones(50, np.float32), "p": nan}), tmp_path / "nan.parquet")
    with pytest.raises(DataError, match=r"evaluate: fit_on with at least one usable row") as err:
        bcelab.evaluate(
            rows, preds="p", target="y", recalibrate="isotonic", fit_on=tmp_path / "nan.parquet"
        )
    message = str(err.value)
    assert "none of the 50 rows of" in message and "50 NaN or null predictions" in message
    zero = pa.table({"y": [1.0, 0.0], "p": [0.3, 0.6], "w": [0.0, 0.0]})
    with pytest.raises(DataError, match=r"evaluate: at least one usable row .* isotonic map"):
        bcelab.evaluate(zero, preds="p", target="y", weight="w", recalibrate="isotonic")


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_the_fit_rows_that_were_left_out_are_counted(method: str) -> None:
    """Rows with a NaN prediction or target are read, not fitted: the result says so."""
    rng = np.random.default_rng(1)
    n = 1000
    z = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    p = 1 / (1 + np.exp(-2 * z))
    p[:400] = np.nan
    y[400:500] = np.nan
    table = {"y": y, "p": p}
    for fit_on in (None, table):
        res = bcelab.evaluate(table, preds="p", target="y", recalibrate=method, fit_on=fit_on)
        rec = res.to_dict()["recalibrated"]
        assert (rec["fit_rows"], rec["fit_rows_used"]) == (1000, 500)
        assert "(1000 rows, 500 used" in str(res)
