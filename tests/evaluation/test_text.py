"""How results print: the whole report, and a null segment never looks like the text value "None"."""

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
