"""The text of a comparison: the notes under the verdict (an estimate outside its own
interval, too few rows), the header of an in-memory source, and zero differences."""

from __future__ import annotations

import html

import numpy as np
import pyarrow as pa

from bcelab.evaluation import compare
from bcelab.evaluation.compare_report import render_html
from bcelab.evaluation.compare_text import notes, render_comparison

from .compare_data import one_positive


def _table(constant_a: bool, rows: int = 1_000) -> pa.Table:
    """Model B sees the score with noise; model A is a constant near the base rate (0.334)
    or a noisier view of the same score."""
    rng = np.random.default_rng(5)
    s = rng.normal(-1.0, 1.5, rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-s))).astype(np.float64)
    good = 1 / (1 + np.exp(-(s + rng.normal(0, 0.5, rows))))
    other = np.full(rows, 0.33) if constant_a else 1 / (1 + np.exp(-(s + rng.normal(0, 0.8, rows))))
    return pa.table({"y": y, "a": other, "b": good})


def test_a_constant_model_gets_the_note_on_its_biased_parts() -> None:
    res = compare(_table(constant_a=True), preds=("a", "b"), target="y")
    m = res.to_dict()["metrics"]["miscalibration"]
    lo, hi = m["ci"]
    assert not lo <= m["diff"] <= hi  # the bias of B's isotonic fit, taken off
    text = render_comparison(res)
    assert "miscalibration: the estimate lies outside its interval" in text
    assert "basic for discrimination and miscalibration" in text


def test_two_real_models_get_no_note() -> None:
    res = compare(_table(constant_a=False), preds=("a", "b"), target="y")
    for m in res.to_dict()["metrics"].values():
        lo, hi = m["ci"]
        assert lo <= m["diff"] <= hi
    assert "outside its interval" not in render_comparison(res)
    assert "fewer than 50 rows" not in render_comparison(res)


def test_few_rows_get_the_note_overall_and_per_segment() -> None:
    table = _table(constant_a=False, rows=200)
    res = compare(table.slice(0, 30), preds=("a", "b"), target="y")
    text = render_comparison(res)
    assert "Only 30 rows: with fewer than 50 rows the bootstrap intervals are too narrow" in text
    assert "Only 30 rows" in res._repr_html_()
    seg = pa.array(["big"] * 170 + ["tail"] * 30)
    res = compare(table.append_column("s", seg), preds=("a", "b"), target="y", by="s")
    text = render_comparison(res)
    assert "1 segment with fewer than 50 rows (tail): there the bootstrap" in text
    assert "Only" not in text


def test_in_memory_sources_and_zero_differences_read_right() -> None:
    table = _table(constant_a=False, rows=200)
    same = table.set_column(1, "a", table.column("b"))  # A and B the same model
    text = render_comparison(compare(same, preds=("a", "b"), target="y"))
    assert "in memory, target 'y'" in text and "0 files" not in text
    assert "rows keyed by their position (no id column)" in text
    assert "file names" not in text
    assert "-0 " not in text and "-0," not in text and "-0)" not in text and "-0]" not in text
    assert "Neither part differs: the models rank and calibrate these rows alike." in text
    assert "Mainly" not in text


def test_metrics_that_too_few_replicates_define_get_a_note() -> None:
    table = one_positive()
    res = compare(table, preds=("a", "b"), target="y", replicates=40)
    m = res.to_dict()["metrics"]
    assert m["roc_auc"]["ci"] == [None, None] and m["roc_auc"]["diff"] is not None
    assert m["roc_auc"]["replicates_used"] < 39 <= m["log_loss"]["replicates_used"]
    text = render_comparison(res)
    note = "of the 40 replicates define them (the others drew no row, or no positive"
    assert "ROC-AUC, PR-AUC: no interval, as only" in text.replace("NE, calibration, ", "")
    assert note in text and "a 95% interval needs 39: compare again with more" in text
    assert "Log loss" not in text.split("no interval")[0].splitlines()[-1]
    res = compare(table, preds=("a", "b"), target="y", replicates=400)
    assert all(None not in v["ci"] for v in res.to_dict()["metrics"].values())
    assert "no interval" not in render_comparison(res)


def test_the_report_page_carries_the_same_note() -> None:
    res = compare(one_positive(), preds=("a", "b"), target="y", replicates=40)
    assert "<div class=warn>NE, calibration, ROC-AUC, PR-AUC: no interval, as only" in render_html(
        res, {}
    )
    assert "<p>NE, calibration, ROC-AUC, PR-AUC: no interval, as only" in res._repr_html_()


def test_a_segment_that_too_few_replicates_define_gets_the_note() -> None:
    table = _table(constant_a=False, rows=2_000)
    y = table.column("y").to_numpy().copy()
    y[1940:] = 0.0
    y[1945] = 1.0  # one positive among the last 60 rows
    seg = pa.array(["big"] * 1940 + ["small"] * 60)
    table = table.set_column(0, "y", pa.array(y)).append_column("s", seg)
    res = compare(table, preds=("a", "b"), target="y", by="s", replicates=40)
    small = next(s for s in res.to_dict()["segments"] if s["value"] == "small")
    assert small["metrics"]["roc_auc"]["ci"] == [None, None]
    text = render_comparison(res)
    assert "1 segment (small): a metric without an interval there has too few" in text
    assert "segment (big" not in text


def test_a_p_value_at_the_floor_of_its_replicates_says_so() -> None:
    table = _table(constant_a=True, rows=2_000)  # B far better: every replicate agrees
    seg = pa.array(["x", "y"] * 1_000)
    for reps in (50, 400):
        res = compare(table.append_column("s", seg), preds=("a", "b"), target="y", by="s",
                      replicates=reps)  # fmt: skip
        d = res.to_dict()
        floor = 2 / (reps + 1)
        assert d["metrics"]["log_loss"]["p_value"] == floor  # no replicate favours A
        note = f"p = {floor:.3g} (log loss, NE, Brier score, "
        text = render_comparison(res)
        assert note in text and f"read it as p ≤ {floor:.3g}" in text
        assert "and 2 segments) is the smallest p-value" in text
        page = render_html(res, {})
        assert note in page and note in res._repr_html_()
        assert "replicates can give is" not in page  # the note says it once
    close = _table(constant_a=False, rows=300)
    res = compare(close, preds=("a", "b"), target="y", replicates=50)
    p = res.to_dict()["metrics"]["log_loss"]["p_value"]
    assert p > 2 / 51 and "smallest p-value" not in render_comparison(res)
    assert "The smallest p-value 50 replicates can give is 0.0392." in render_html(res, {})


def test_a_noise_difference_names_no_main_part() -> None:
    rng = np.random.default_rng(11)
    s = rng.normal(-0.5, 1.5, 3_000)
    y = (rng.random(3_000) < 1 / (1 + np.exp(-s))).astype(np.float64)
    # two equally good views of the same score: any difference is the sample's
    a, b = (1 / (1 + np.exp(-(s + rng.normal(0, 0.3, 3_000)))) for _ in range(2))
    res = compare(pa.table({"y": y, "a": a, "b": b}), preds=("a", "b"), target="y")
    d = res.to_dict()
    assert d["verdict"]["better"] is None and d["verdict"]["mainly"] is None
    for part in ("discrimination", "miscalibration"):
        lo, hi = d["metrics"][part]["ci"]
        assert lo <= 0 <= hi
    text = render_comparison(res)
    assert "Neither part differs clearly either (both intervals include 0): B − A = " in text
    assert "Mainly" not in text
    # a clear difference keeps its main part
    res = compare(_table(constant_a=False), preds=("a", "b"), target="y")
    assert res.to_dict()["verdict"]["mainly"] is not None
    assert "Mainly" in render_comparison(res)


def test_rows_that_share_few_ids_get_the_note_with_the_estimated_count() -> None:
    table = _table(constant_a=False, rows=2_000)
    shared = table.append_column("id", pa.array(np.arange(2_000) % 20))
    text = render_comparison(compare(shared, preds=("a", "b"), target="y", id="id"))
    assert "The bootstrap resamples about " in text and "the rows share ids, or a few" in text
    assert "and with fewer than 50 such units the bootstrap intervals are too narrow" in text
    unique = table.append_column("id", pa.array(np.arange(2_000)))
    text = render_comparison(compare(unique, preds=("a", "b"), target="y", id="id"))
    assert "share ids" not in text and "fewer than 50" not in text


def test_one_id_for_every_row_gives_no_interval_and_says_why() -> None:
    table = _table(constant_a=False, rows=500)
    one = table.append_column("id", pa.array(np.zeros(500, dtype=np.int64)))
    res = compare(one, preds=("a", "b"), target="y", id="id")
    d = res.to_dict()
    assert d["resampling_units"] == 1.0 and d["verdict"]["better"] is None
    assert all(m["ci"] == [None, None] and m["p_value"] is None for m in d["metrics"].values())
    text = render_comparison(res)
    assert "The comparison rests on one id (every row with a weight above 0 has it):" in text
    assert "there are no intervals or p-values" in text and "is better than" not in text
    assert "rests on one id" in res._repr_html_()
    assert "rests on one id" in render_html(res, {})
    assert "class=verdict" not in render_html(res, {})  # no empty verdict box


def test_a_segment_of_one_row_gets_the_one_unit_note() -> None:
    table = _table(constant_a=False, rows=301)
    seg = pa.array(["big"] * 300 + ["single"])
    res = compare(table.append_column("s", seg), preds=("a", "b"), target="y", by="s")
    text = render_comparison(res)
    assert "1 segment (single) rests on one row or one id:" in text
    assert "fewer than 50 rows (single)" not in text
    single = next(s for s in res.to_dict()["segments"] if s["value"] == "single")
    assert single["resampling_units"] == 1.0


def test_excluded_and_clipped_rows_are_counted_in_words() -> None:
    table = _table(constant_a=False, rows=200)
    a = table.column("a").to_numpy().copy()
    a[:2], a[2] = np.nan, 0.0  # two missing predictions of A, one clipped
    y = table.column("y").to_numpy().copy()
    y[3] = np.nan
    t = table.set_column(1, "a", pa.array(a)).set_column(0, "y", pa.array(y))
    text = render_comparison(compare(t, preds=("a", "b"), target="y", clip=1e-7))
    assert (
        "200 rows (197 used); 2 NaN or null predictions of model A, 1 missing or invalid " in text
    )
    assert "target, 1 clipped prediction of model A;" in text and "nan a" not in text


def test_weights_on_few_rows_are_named_as_the_cause() -> None:
    # 500 rows keyed by position; the weight on one row, then on two, then on 500 but
    # with one row of 1e6: the notes name the weights, not ids the data does not have
    table = _table(constant_a=False, rows=500)
    w = np.zeros(500)
    w[7] = 1.0
    res = compare(table.append_column("w", pa.array(w)), preds=("a", "b"), target="y", weight="w")
    text = render_comparison(res)
    assert "The comparison rests on one row (every other row has a weight of 0):" in text
    w[8] = 1.0
    res = compare(table.append_column("w", pa.array(w)), preds=("a", "b"), target="y", weight="w")
    text = render_comparison(res)
    assert "The weights rest on few rows: their effective number (Kish's" in text
    assert "is 2.0, and with fewer than 50 such units the bootstrap intervals" in text
    w = np.ones(500)
    w[3] = 1e6
    keyed = table.append_column("w", pa.array(w)).append_column("id", pa.array(np.arange(500)))
    res = compare(keyed, preds=("a", "b"), target="y", weight="w", id="id")
    text = render_comparison(res)
    assert "a few ids carry most of the weight" in text and "The rows share ids" not in text


def test_an_estimate_at_its_intervals_end_up_to_rounding_is_inside() -> None:
    # two rows: NE's estimate and its replicates come from sums at two fixed-point
    # scales, and the estimate was 2.9e-11 beyond the interval's end that it equals
    table = pa.table({"y": [0.0, 1.0], "a": [0.3, 0.6], "b": [0.2, 0.7], "id": [0, 1]})
    res = compare(table, preds=("a", "b"), target="y", id="id")
    ne = res.to_dict()["metrics"]["ne"]
    assert abs(ne["diff"] - ne["ci"][1]) < 1e-9 * abs(ne["diff"])
    assert "NE: the estimate lies outside" not in render_comparison(res)


def test_every_note_of_the_text_is_in_the_report_and_the_notebook_view() -> None:
    res = compare(_table(constant_a=True), preds=("a", "b"), target="y")
    text = render_comparison(res)
    assert "the estimate lies outside its interval" in text
    page, view = render_html(res, {}), res._repr_html_()
    for note in notes(res.to_dict()):
        assert html.escape(note) in page and html.escape(note) in view, note


def test_a_positive_label_that_matches_no_target_is_named() -> None:
    table = _table(constant_a=False, rows=300)
    labels = pa.array(np.where(table.column("y").to_numpy() == 1, "yes", "no"))
    text_table = table.set_column(0, "y", labels)
    text = render_comparison(
        compare(text_table, preds=("a", "b"), target="y", positive_label="maybe")
    )
    assert "The positive label 'maybe' matched no used target, so every target counts as 0" in text
    text = render_comparison(
        compare(text_table, preds=("a", "b"), target="y", positive_label="yes")
    )
    assert "matched no used target" not in text


def test_models_one_ulp_apart_get_no_note_of_bias() -> None:
    """B = A one ulp up: the point estimate (units of 2**-64) sees a difference the
    replicates (units of 2**-32) cannot, which is no bias of the statistic."""
    t = _table(constant_a=False)
    a = t.column("a").to_numpy()
    t = t.append_column("a_up", pa.array(np.nextafter(a, 1.0)))
    res = compare(t, preds=("a", "a_up"), target="y")
    m = res.to_dict()["metrics"]["brier"]
    assert m["diff"] != 0 and m["ci"] == [0.0, 0.0]
    assert "outside its interval" not in render_comparison(res)
