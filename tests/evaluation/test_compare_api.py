"""``bcelab.evaluation.compare`` on the local engine: numbers, invariance, keys, options."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import bcelab
from bcelab.errors import DataError, OptionError
from bcelab.evaluation import ComparisonResult, compare
from bcelab.evaluation.compare_task import PairedAccumulator
from bcelab.evaluation.local_engine import run_local
from bcelab.evaluation.reader import Columns, plan_units
from bcelab.evaluation.tasks import Plan
from bcelab.metrics import PairedBootstrapStats

from .compare_data import REPS, ROWS, body, table, write_parts

pytest.importorskip("bcelab.kernels.bootstrap", reason="numba (bcelab[fast]) is missing")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("compare")
    t = table()
    return {
        "table": t,
        "one": write_parts(root / "one", t, 1)[0],
        "four": root / "four",
        "four_paths": write_parts(root / "four", t, 4),
        "root": root,
    }


def _run(src: object, **kw: object) -> ComparisonResult:
    opts: dict[str, object] = {"target": "y", "preds": ("a", "b"), "replicates": REPS}
    opts.update(kw)
    return compare(src, **opts)  # type: ignore[arg-type]


def test_points_are_the_evaluation_of_each_model(data: dict[str, object]) -> None:
    res = _run(data["one"], weight="w", id="id")
    m = res.to_dict()["metrics"]
    for key, col in (("a", "a"), ("b", "b")):
        ev = bcelab.evaluate(data["one"], preds=col, target="y", weight="w").metrics
        assert m["log_loss"][key] == pytest.approx(ev.log_loss, rel=1e-12)
        assert m["ne"][key] == pytest.approx(ev.ne, rel=1e-12)
        assert m["brier"][key] == pytest.approx(ev.brier, rel=1e-12)
        assert m["calibration"][key] == pytest.approx(ev.calibration, rel=1e-12)
        assert m["roc_auc"][key] == pytest.approx(ev.roc_auc, rel=1e-12)
        assert m["ece"][key] == pytest.approx(ev.ece_uniform, rel=1e-9)
    ll = m["log_loss"]
    assert ll["diff"] == ll["b"] - ll["a"]
    assert ll["ci"][0] <= ll["diff"] <= ll["ci"][1]
    assert 2 / (REPS + 1) <= ll["p_value"] <= 1
    ident = (m["uncertainty"]["b"] - m["discrimination"]["b"] + m["miscalibration"]["b"]) - ll["b"]
    assert abs(ident) < 1e-12


def test_one_pass_state_is_the_paired_state_of_the_rows(data: dict[str, object]) -> None:
    """The engine feeds the rows to PairedBootstrapStats exactly as a direct update would."""
    t = data["table"]
    res = _run(data["one"], id="id", weight="w")
    direct = PairedBootstrapStats(replicates=REPS, seed=0).update(
        t["a"].to_numpy(), t["b"].to_numpy(), t["y"].to_numpy(), weights=t["w"].to_numpy(),
        ids=t["id"].to_numpy(),
    )  # fmt: skip
    assert res.stats == direct


def test_threads_and_files_give_the_same_bits_with_ids(data: dict[str, object]) -> None:
    ref = _run(data["one"], id="id", by="g", threads=1).to_dict()
    for src, threads in ((data["one"], 2), (data["four"], 1), (data["four"], 2)):
        got = _run(src, id="id", by="g", threads=threads).to_dict()
        assert body(got) == body(ref), (src, threads)
    shuffled = data["table"].take(np.random.default_rng(9).permutation(ROWS))
    write_parts(data["root"] / "shuffled", shuffled, 3)
    got = _run(data["root"] / "shuffled", id="id", by="g").to_dict()
    assert body(got) == body(ref)


def test_without_ids_rows_are_keyed_by_relative_file_name_and_row(
    data: dict[str, object],
) -> None:
    first = _run(data["four"], threads=2).to_dict()
    assert first["keyed_by"] == "file and row"
    moved = data["root"] / "elsewhere" / "deeper"
    shutil.copytree(data["four"], moved)
    assert body(_run(moved, threads=1).to_dict()) == body(first)
    listed = sorted(Path(moved).glob("*.parquet"))
    assert body(_run(listed).to_dict()) == body(first)  # a file passed: keyed by its name
    # relative paths (the units name their files by absolute path): the same keys,
    # also for files in a subfolder of the folder passed (keyed "inner/part-...")
    nested = data["root"] / "nested"
    shutil.copytree(data["four"], nested / "inner")
    keyed = body(_run(nested).to_dict())
    assert keyed != body(first)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(data["root"])
        assert body(_run("nested").to_dict()) == keyed
        assert body(_run([f"elsewhere/deeper/{p.name}" for p in listed]).to_dict()) == body(first)
    # the keys are the positions: reordering rows inside the files changes the weights
    shuffled = data["table"].take(np.random.default_rng(9).permutation(ROWS))
    write_parts(data["root"] / "shuffled_noid", shuffled, 4)
    other = _run(data["root"] / "shuffled_noid").to_dict()
    assert other["metrics"]["log_loss"]["diff"] == pytest.approx(
        first["metrics"]["log_loss"]["diff"], rel=1e-12
    )
    assert other["metrics"]["log_loss"]["ci"] != first["metrics"]["log_loss"]["ci"]


def test_units_inside_one_file_continue_the_row_positions(data: dict[str, object]) -> None:
    """A file cut into several units keys its rows like one unit (first_row is carried)."""
    cols = Columns("y", "a", pred_b="b")
    acc = PairedAccumulator(REPS, 0, file_keys={str(data["one"]): "f"})
    plan = Plan(cols, accumulator=acc)
    whole = run_local(plan_units([data["one"]], cols), plan, threads=1)
    units = plan_units([data["one"]], cols, unit_rows=5000)
    assert len(units) > 2 and units[1].first_row == 6000
    split = run_local(units, plan, threads=2)
    assert split.states[None] == whole.states[None]


def test_segments_merge_to_the_total(data: dict[str, object]) -> None:
    plain = _run(data["four"], id="id").to_dict()
    seg = _run(data["four"], id="id", by="g")
    d = seg.to_dict()
    assert json.dumps(d["metrics"]) == json.dumps(plain["metrics"])
    assert [s["value"] for s in d["segments"]] == ["x", "y", "z"]
    assert sum(s["rows"] for s in d["segments"]) == ROWS
    merged = PairedBootstrapStats.merge_all(s.stats for s in seg.segments)
    assert merged == seg.stats


def test_logits_and_csv_ids_as_text(data: dict[str, object], tmp_path: Path) -> None:
    t = data["table"]
    res = _run(data["one"], preds=None, logits=("za", "zb"), id="id").to_dict()
    assert res["columns"]["logit"] == {"a": "za", "b": "zb"}
    assert res["metrics"]["log_loss"]["diff"] < 0
    csv_path = tmp_path / "rows.csv"
    pacsv.write_csv(t.select(["y", "a", "b", "id"]), csv_path)
    # the same values in Parquet, with the ids as text: the keys of a CSV id column
    same = pacsv.read_csv(csv_path)
    ids = pa.array([str(v) for v in same["id"].to_pylist()])
    pq.write_table(same.set_column(3, "id", ids), tmp_path / "text.parquet")
    from_csv = _run(csv_path, id="id").to_dict()
    from_text = _run(tmp_path / "text.parquet", id="id").to_dict()
    assert json.dumps(from_csv["metrics"]) == json.dumps(from_text["metrics"])


def test_duplicate_file_names_need_ids(data: dict[str, object], tmp_path: Path) -> None:
    write_parts(tmp_path / "x", data["table"].slice(0, 500), 1)
    write_parts(tmp_path / "y", data["table"].slice(500, 500), 1)
    paths = [tmp_path / "x" / "part-0.parquet", tmp_path / "y" / "part-0.parquet"]
    with pytest.raises(OptionError, match=r"both keyed as 'part-0\.parquet'") as err:
        _run(paths)
    assert "pass one folder that holds both" in str(err.value)
    both = _run(tmp_path, replicates=REPS).to_dict()  # keyed as x/part-0, y/part-0
    assert both["rows"] == 1000
    assert _run(paths, id="id").to_dict()["rows"] == 1000


def test_missing_ids_and_float_ids_are_named(tmp_path: Path) -> None:
    t = table(300)
    pq.write_table(t.set_column(7, "id", pa.array([1.5] * 300)), tmp_path / "f.parquet")
    with pytest.raises(bcelab.errors.DTypeError, match="id column 'id'"):
        _run(tmp_path / "f.parquet", id="id")
    ids = pa.array([None, *range(299)], pa.int64())
    pq.write_table(t.set_column(7, "id", ids), tmp_path / "n.parquet")
    with pytest.raises(DataError, match="1 row without an id"):
        _run(tmp_path / "n.parquet", id="id")


BAD = [
    ({"preds": ("a", "b"), "logits": ("za", "zb")}, "exactly one pair"),
    ({"preds": None}, "exactly one pair"),
    ({"preds": "a"}, "pair of column names"),
    ({"preds": ("a", "b", "c")}, "pair of column names"),
    ({"preds": ("a", "a")}, "two different columns"),
    ({"preds": ("a", "y")}, "distinct columns"),
    ({"id": "a"}, "distinct columns"),
    ({"weight": ""}, "weight must be a column name"),
    ({"target": 3}, "target must be a column name"),
    ({"replicates": 0}, "replicates must be an integer >= 1"),
    ({"replicates": True}, "replicates must be an integer >= 1"),
    ({"replicates": 2001}, "at most 2,000"),
    (
        {"replicates": 1},
        r"at least 39 replicates for 0.95 intervals.*confidence=0.95. pass replicates=200$",
    ),
    (
        {"replicates": 38},
        r"received replicates=38 with confidence=0.95. pass replicates=200, or confidence=0.9487 or lower",
    ),
    (
        {"replicates": 198, "confidence": 0.99},
        r"at least 199 replicates for 0.99 intervals.*pass replicates=200, or confidence=0.9899",
    ),
    (
        {"replicates": 2000, "confidence": 0.9999},
        r"at least 19,999 replicates.*pass confidence=0.999 or lower$",
    ),
    ({"seed": -1}, "seed must be an integer"),
    ({"seed": 1.5}, "seed must be an integer"),
    ({"confidence": 1.0}, "confidence must be a number strictly between 0 and 1"),
    ({"confidence": "high"}, "confidence must be"),
    ({"clip": 0.7}, "clip must be a number in"),
    ({"preds": None, "logits": ("za", "zb"), "clip": 1e-7}, "clip= applies to probabilities"),
    ({"engine": "spark"}, "engine must be one of"),
    ({"engine": "dask", "threads": 2}, "threads= only with engine='local'"),
    ({"workers": 2}, "workers= only with engine='dask'"),
    ({"strict": "yes"}, "strict must be True or False"),
    ({"progress": "yes"}, "progress must be True, False or a callable"),
]


@pytest.mark.parametrize(("kw", "match"), BAD)
def test_options_are_checked_before_any_read(kw: dict[str, object], match: str) -> None:
    with pytest.raises(OptionError, match=match) as err:
        _run("/no/such/folder", **kw)
    assert str(err.value).startswith("compare: ")


def test_tables_give_the_bits_of_the_file(data: dict[str, object]) -> None:
    t = data["table"]
    ref = _run(data["one"], id="id", by="g").to_dict()
    as_dict = {name: t[name].to_numpy(zero_copy_only=False) for name in t.column_names}
    for src in (t, as_dict):
        got = _run(src, id="id", by="g").to_dict()
        assert body(got) == body(ref)
    assert _run(t).to_dict()["keyed_by"] == "file and row"
    with pytest.raises(OptionError, match="compare: source must be a path"):
        _run(3.5)


def test_without_ids_any_kind_of_table_keys_its_rows_by_position(
    data: dict[str, object],
) -> None:
    # the key once held the kind of table, so a Table, a DataFrame and a dict of the same
    # rows gave three different intervals
    t = data["table"].select(["y", "a", "b"])
    frame = pytest.importorskip("pandas") and t.to_pandas()
    as_dict = {name: t[name].to_numpy() for name in t.column_names}
    got = [body(_run(src).to_dict()) for src in (t, frame, as_dict)]
    assert got[0] == got[1] == got[2]


def test_positive_label_maps_labels(data: dict[str, object], tmp_path: Path) -> None:
    t = data["table"]
    labels = pa.array(np.where(t["y"].to_numpy() > 0.5, "yes", "no"))
    pq.write_table(t.set_column(0, "y", labels), tmp_path / "labels.parquet")
    got = _run(tmp_path / "labels.parquet", id="id", positive_label="yes").to_dict()
    ref = _run(data["one"], id="id").to_dict()
    assert json.dumps(got["metrics"]) == json.dumps(ref["metrics"])
    with pytest.raises(DataError, match="positive_label='yes'"):
        _run(tmp_path / "labels.parquet", id="id")


def test_empty_files_and_unusable_segments(data: dict[str, object], tmp_path: Path) -> None:
    t = data["table"]
    pq.write_table(t.slice(0, 0), tmp_path / "empty.parquet")
    with pytest.raises(DataError, match="0 rows"):
        _run(tmp_path / "empty.parquet")
    y = t["y"].to_numpy().copy()
    g = t["g"].to_numpy(zero_copy_only=False)
    y[g == "z"] = np.nan  # every row of segment z has an invalid target
    pq.write_table(t.set_column(0, "y", pa.array(y)), tmp_path / "nan.parquet")
    d = _run(tmp_path / "nan.parquet", id="id", by="g").to_dict()
    assert d["excluded"]["invalid_target"] == int((g == "z").sum())
    assert d["segments"][2]["value"] == "z" and d["segments"][2]["metrics"] is None
    assert d["segments"][0]["metrics"] is not None


def test_text_html_and_plot(data: dict[str, object]) -> None:
    with_id = _run(data["one"], id="id")
    text = str(with_id)
    assert "rows keyed by the id column 'id'" in text
    assert "B is better than A in log loss" in text or "No clear difference" in text
    assert "Mainly" in text
    assert "file and row" in str(_run(data["one"]))
    html = with_id._repr_html_()
    assert "<table>" in html and "ROC-AUC" in html and "<script" not in html
    fig = with_id.plot()
    assert len(fig.axes) == 9


def test_html_escapes_column_names(tmp_path: Path) -> None:
    t = table(2000).rename_columns(["y", "<b>a</b>", "b&c", "za", "zb", "w", "g", "id"])
    pq.write_table(t, tmp_path / "odd.parquet")
    res = compare(tmp_path / "odd.parquet", target="y", preds=("<b>a</b>", "b&c"), replicates=40)
    assert "<b>a</b>" not in res._repr_html_()
    assert math.isfinite(res.to_dict()["metrics"]["log_loss"]["diff"])
