"""How results print: the whole report, a null segment never looks like the text value "None", and why a metric is n/a."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

import bcelab
from bcelab.evaluation import compare
from bcelab.evaluation.markup import segments_table
from bcelab.evaluation.text import NULL_SEGMENT, render, segment_label


def _table() -> pa.Table:
    rng = np.random.default_rng(11)
    rows = 600
    p = rng.random(rows)
    y = (rng.random(rows) < p).astype(np.float64)
    seg = [None if i % 5 == 0 else ("None" if i % 2 else "x") for i in range(rows)]
    return pa.table({"y": y, "p": p, "q": p**1.3, "s": pa.array(seg, pa.string())})


def test_segment_label() -> None:
    assert segment_label(None) == NULL_SEGMENT == "(null)"
    assert segment_label("None") == "None" and segment_label(2021) == "2021"
    assert segment_label(-0.0) == "0.0" and segment_label(float("nan")) == "NaN"


def test_null_and_none_segments_are_told_apart_in_text_html_and_json() -> None:
    res = bcelab.evaluate(_table(), preds="p", target="y", by="s")
    values = [s.value for s in res.segments]
    assert None in values and "None" in values and len(values) == 3
    rows = {line.split()[0]: line for line in render(res).splitlines()[-3:]}
    assert set(rows) == {"None", "x", NULL_SEGMENT}
    html = segments_table(res.to_dict())
    assert "<th>(null)</th>" in html and "<th>None</th>" in html
    assert [s["value"] for s in res.to_dict()["segments"]].count(None) == 1


def test_the_comparison_labels_its_null_segment_too() -> None:
    res = compare(_table(), preds=("p", "q"), target="y", by="s")
    last = str(res).splitlines()[-3:]
    assert sorted(line.split()[0] for line in last) == sorted([NULL_SEGMENT, "None", "x"])


def test_printing_a_result_shows_the_whole_report() -> None:
    # print(res) in Python shows what `bcelab eval` prints: the decomposition and segments too
    res = bcelab.evaluate(_table(), preds="p", target="y", by="s")
    text = str(res)
    assert text == render(res)
    assert "in memory" in text.splitlines()[0]
    assert any(line.startswith("decomposition") for line in text.splitlines())
    assert {NULL_SEGMENT, "None", "x"} <= {line.split()[0] for line in text.splitlines() if line}


def _one_class_segment() -> pa.Table:
    """Segment ``both`` holds both classes, ``zeros`` only 0s, ``ones`` only 1s."""
    rng = np.random.default_rng(3)
    p = rng.random(90)
    y = np.r_[(rng.random(30) < p[:30]), np.zeros(30), np.ones(30)].astype(np.float64)
    seg = ["both"] * 30 + ["zeros"] * 30 + ["ones"] * 30
    return pa.table({"y": y, "p": p, "q": p**1.3, "s": seg})


def test_an_undefined_segment_metric_is_explained_under_the_table() -> None:
    # the segment rows showed n/a with no reason (NE, calibration and the areas of a
    # segment that holds one class); the overall summary already said why
    res = bcelab.evaluate(_one_class_segment(), preds="p", target="y", by="s")
    legend = render(res).splitlines()[-1]
    assert legend == (
        "n/a: undefined for those rows: NE needs both classes (it divides by the base rate's "
        "entropy); calibration needs positive rows (it divides by their weight); ROC-AUC "
        "needs positive and negative rows; PR-AUC needs positive rows"
    )
    assert legend in segments_table(res.to_dict()).replace("&#x27;", "'")
    both = bcelab.evaluate(_table(), preds="p", target="y", by="s")
    assert "n/a" not in render(both) and "n/a" not in segments_table(both.to_dict())


def test_the_report_table_gives_the_reason_beside_an_undefined_metric() -> None:
    from bcelab.evaluation.markup import metrics_table

    zeros = bcelab.evaluate(
        pa.table({"y": np.zeros(4), "p": [0.1, 0.2, 0.6, 0.9]}), preds="p", target="y"
    )
    html = metrics_table(zeros.to_dict()["metrics"])
    assert "undefined: every used target is 0, so the base rate&#x27;s entropy is 0" in html
    assert "undefined: no positive targets" in html and "undefined: needs positive rows" in html
    assert "<th>accuracy</th><td class=num>0.5</td><td class=note>at the threshold" in html


def test_a_comparison_on_one_class_says_which_metrics_neither_model_has() -> None:
    table = _one_class_segment()
    zeros = table.slice(30, 30)
    text = str(compare(zeros, preds=("p", "q"), target="y"))
    assert (
        "NE, calibration, ROC-AUC, PR-AUC: undefined for both models, as every used target "
        "is 0: NE needs both classes" in text
    )
    ones = table.slice(60, 30)
    assert "NE, ROC-AUC: undefined for both models, as every used target is 1" in str(
        compare(ones, preds=("p", "q"), target="y")
    )


def test_a_comparison_explains_the_n_a_of_its_one_class_segments() -> None:
    from bcelab.evaluation.compare_report import render_html

    res = compare(_one_class_segment(), preds=("p", "q"), target="y", by="s")
    legend = "n/a: undefined for those rows: ROC-AUC needs positive and negative rows"
    assert str(res).splitlines()[-1] == legend
    assert legend in render_html(res, {})
    both = compare(_table(), preds=("p", "q"), target="y", by="s")
    assert "undefined for those rows" not in str(both)


def test_an_infinite_log_loss_reads_inf_in_the_recalibration_and_segment_tables() -> None:
    # a prediction of exactly 0 for a positive: the log loss is inf, which the metrics
    # line printed while the before/after table and the segment table said n/a
    table = _table()
    p = table.column("p").to_numpy().copy()
    y = table.column("y").to_numpy().copy()
    p[1], y[1] = 0.0, 1.0  # row 1 is in segment "None"
    table = table.set_column(1, "p", pa.array(p)).set_column(0, "y", pa.array(y))
    res = bcelab.evaluate(table, preds="p", target="y", by="s", recalibrate="platt")
    text = render(res)
    assert any(line.split() == ["log", "loss", "inf", "inf"] for line in text.splitlines())
    row = next(line for line in text.splitlines() if line.startswith("None "))
    assert row.split()[2] == "inf" and "n/a" not in row
