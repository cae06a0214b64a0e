"""``bcelab.evaluate`` on the local engine (issue 5, sections 3 and 6; Bad input)."""

from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

import bcelab
from bcelab.errors import DataError, DomainError, NaNError, OptionError
from bcelab.metrics import BinaryStats

N_FILES, ROWS = 6, 20_000
REL = 1e-12  # issue 5: engines agree to 1e-12 relative (different merge orders)


def _data(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    p = (1 / (1 + np.exp(-z))).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    return {
        "y": y,
        "p": p,
        "z": z.astype(np.float32),
        "w": rng.uniform(0.5, 2.0, n).astype(np.float32),
        "g": rng.choice(np.array(["a", "b", "c"]), n),
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict[str, np.ndarray]]:
    d = tmp_path_factory.mktemp("preds")
    parts = [_data(ROWS, seed) for seed in range(N_FILES)]
    for i, part in enumerate(parts):
        pq.write_table(pa.table(part), d / f"part-{i}.parquet", row_group_size=5000)
    whole = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return d, whole


def _close(a: float, b: float, rel: float = REL) -> bool:
    return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)


def _same_metrics(m1: object, m2: object, rel: float = REL) -> None:
    d1, d2 = m1.to_dict(), m2.to_dict()  # type: ignore[attr-defined]
    for k, v in d1.items():
        if isinstance(v, float):
            assert _close(v, d2[k], rel), (k, v, d2[k])
        else:
            assert v == d2[k], (k, v, d2[k])


def test_matches_the_in_memory_state_and_sklearn(folder):
    d, whole = folder
    res = bcelab.evaluate(d, preds="p", target="y", threads=2)
    ref = BinaryStats(kernel="numpy").update(whole["p"], whole["y"])
    _same_metrics(res.metrics, ref.compute())
    m = res.metrics
    assert m.rows == N_FILES * ROWS and res.rows == m.rows and res.files == N_FILES
    # scikit-learn in memory on hard labels (issue 5, section 2); sklearn clips nothing here
    # because no prediction is exactly 0 or 1.
    y, p = whole["y"].astype(np.float64), whole["p"].astype(np.float64)
    assert math.isclose(m.log_loss, log_loss(y, p), rel_tol=1e-10)
    assert math.isclose(m.brier, brier_score_loss(y, p), rel_tol=1e-10)
    assert abs(m.roc_auc - roc_auc_score(y, p)) <= m.roc_auc_bound + 1e-12


def test_one_two_and_three_threads_are_bit_identical(folder):
    d, _ = folder
    a = bcelab.evaluate(d, preds="p", target="y", weight="w", threads=1)
    b = bcelab.evaluate(d, preds="p", target="y", weight="w", threads=2)
    c = bcelab.evaluate(d, preds="p", target="y", weight="w", threads=3)
    assert a.stats == b.stats == c.stats
    assert a.to_dict()["metrics"] == b.to_dict()["metrics"]


def test_weights_and_logits_use_the_core_formulas(folder):
    d, whole = folder
    y, z, w = (whole[k].astype(np.float64) for k in ("y", "z", "w"))
    res = bcelab.evaluate(d, logits="z", target="y", weight="w")
    per_row = bcelab.bce_with_logits(z, y)  # the core's exact per-row loss
    assert math.isclose(res.metrics.log_loss, float(np.sum(w * per_row) / np.sum(w)), rel_tol=1e-12)
    assert res.to_dict()["columns"]["logit"] == "z"


def test_by_gives_the_state_of_each_segment(folder):
    d, whole = folder
    res = bcelab.evaluate(d, preds="p", target="y", by="g", threads=2)
    assert [s.value for s in res.segments] == ["a", "b", "c"]
    assert sum(s.stats.rows for s in res.segments) == res.rows
    for s in res.segments:
        keep = whole["g"] == s.value
        ref = BinaryStats(kernel="numpy").update(whole["p"][keep], whole["y"][keep])
        _same_metrics(s.metrics, ref.compute())
    _same_metrics(res.metrics, BinaryStats(kernel="numpy").update(whole["p"], whole["y"]).compute())
    frame = res.to_frame()
    assert frame.column_names[0] == "g" and frame.num_rows == 3
    assert frame["rows"].to_pylist() == [s.stats.rows for s in res.segments]


def test_csv_equals_parquet(tmp_path):
    data = _data(30_000, 7)
    t = pa.table(
        {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in data.items()}
    )
    pq.write_table(t, tmp_path / "a.parquet")
    pacsv.write_csv(t, tmp_path / "a.csv")  # float64 text round-trips exactly
    a = bcelab.evaluate(tmp_path / "a.parquet", preds="p", target="y", by="g")
    b = bcelab.evaluate(tmp_path / "a.csv", preds="p", target="y", by="g")
    _same_metrics(a.metrics, b.metrics)
    for sa, sb in zip(a.segments, b.segments, strict=True):
        assert sa.value == sb.value
        _same_metrics(sa.metrics, sb.metrics)


def _bad_file(tmp_path, **cols: list[float]) -> object:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({k: np.asarray(v, np.float64) for k, v in cols.items()}), path)
    return path


def test_nan_predictions_and_missing_targets_are_counted_not_dropped(tmp_path):
    path = _bad_file(tmp_path, y=[1, 0, np.nan, 1, 0, np.nan], p=[0.9, np.nan, 0.5, 0.8, 0.1, 0.3])
    m = bcelab.evaluate(path, preds="p", target="y").metrics
    assert (m.rows, m.rows_used, m.nan_predictions, m.invalid_targets) == (6, 3, 1, 2)
    assert m.rows_excluded == 3
    # the metrics are those of the three valid rows
    ref = BinaryStats(kernel="numpy").update([0.9, 0.8, 0.1], [1, 1, 0]).compute()
    assert math.isclose(m.log_loss, ref.log_loss, rel_tol=1e-15)
    with pytest.raises(NaNError, match=r"bad\.parquet.*batch 0"):
        bcelab.evaluate(path, preds="p", target="y", strict=True)


def test_targets_outside_unit_interval_are_an_error_naming_the_values(tmp_path):
    # never half the rows silently excluded as "invalid targets"
    path = _bad_file(tmp_path, y=[1, -1, -1, 1, np.nan], p=[0.9, 0.2, 0.5, 0.8, 0.3])
    with pytest.raises(DataError) as e:
        bcelab.evaluate(path, preds="p", target="y")
    msg = str(e.value)
    assert "it holds -1, 1" in msg and "at row 1 of" in msg and "bad.parquet" in msg
    assert "positive_label=1" in msg
    m = bcelab.evaluate(path, preds="p", target="y", positive_label=1).metrics
    assert (m.rows_used, m.invalid_targets, m.base_rate) == (4, 1, 0.5)


def test_probabilities_outside_unit_interval_without_logit(tmp_path):
    path = _bad_file(tmp_path, y=[1, 0, 1], p=[2.5, -1.0, 0.3])
    with pytest.raises(DomainError, match=r"probabilities must lie in \[0, 1\].*bad\.parquet"):
        bcelab.evaluate(path, preds="p", target="y")
    # the same column as logits is fine: bcelab never guesses which one it is
    assert bcelab.evaluate(path, logits="p", target="y").metrics.rows_used == 3


def test_clip_is_explicit_and_counted(tmp_path):
    path = _bad_file(tmp_path, y=[1, 0, 1, 0], p=[0.0, 1.0, 0.5, 0.5])
    m = bcelab.evaluate(path, preds="p", target="y").metrics
    assert m.log_loss_is_infinite and m.clipped_predictions == 0
    m = bcelab.evaluate(path, preds="p", target="y", clip=1e-7).metrics
    assert m.clipped_predictions == 2 and math.isfinite(m.log_loss)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"preds": "p", "logits": "z"}, "exactly one prediction column"),
        ({}, "exactly one prediction column"),
        ({"preds": "p", "threshold": 0.537}, "threshold must be an exact bin edge"),
        ({"preds": "p", "threshold": "half"}, "threshold must be a number in"),
        ({"preds": "p", "threshold": 0.0}, "^evaluate: threshold must be an exact bin edge"),
        (
            {"preds": "p", "threshold": 1.5},
            r"^evaluate: threshold must be an exact bin edge in \(0, 1\)",
        ),
        ({"preds": "p", "threshold": "0.5"}, r"threshold must be a number in \(0, 1\)"),
        ({"preds": "p", "n_calibration_bins": 0}, "n_calibration_bins must be an integer"),
        (
            {"preds": "p", "n_calibration_bins": 5000},
            r"^evaluate: n_calibration_bins .* \[1, 1000\]",
        ),
        ({"preds": "p", "engine": "spark"}, "engine must be one of"),
        ({"preds": "y"}, "distinct columns"),
        ({"preds": ""}, "preds must be a column name"),
        ({"preds": "p", "clip": 0.7}, "clip must be a number in"),
        ({"preds": "p", "threads": 0}, "threads must be an integer >= 1"),
        ({"preds": "p", "threads": 2.5}, "threads must be an integer >= 1"),
        ({"preds": "p", "workers": 2}, "workers= only with engine='dask'"),
        ({"preds": "p", "engine": "dask", "threads": 2}, "threads= only with engine='local'"),
        ({"preds": "p", "engine": "dask", "workers": 0}, "workers must be an integer >= 1"),
        ({"preds": "p", "scheduler": "tcp://x:1"}, "scheduler= only with engine='dask'"),
        ({"preds": "p", "progress": "yes"}, "progress must be True, False or a callable"),
        ({"preds": "p", "strict": "False"}, "strict must be True or False"),  # not truthy text
        ({"preds": "p", "strict": 1}, "strict must be True or False"),
        (
            {"logits": "p", "clip": 1e-7},
            r"clip= applies to probabilities \(preds=\) only; received clip=1e-07 "
            r"together with logits='p'\. drop clip=",
        ),
    ],
)
def test_bad_options_fail_before_any_file_is_read(tmp_path, kw, message):
    # The path does not exist: an OptionError, not a DataError, proves the order.
    missing = tmp_path / "not-there.parquet"
    with pytest.raises(OptionError, match=message) as e:
        bcelab.evaluate(missing, target="y", **kw)
    assert "--" not in str(e.value)  # Python argument names, never flags


def test_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        bcelab.evaluate(tmp_path / "not-there.parquet", preds="p", target="y")


def test_threads_with_dask_names_threads_and_the_fix(tmp_path):
    with pytest.raises(OptionError) as e:
        bcelab.evaluate(tmp_path, preds="p", target="y", engine="dask", threads=4)
    msg = str(e.value)
    assert "threads=4" in msg and "workers=" in msg


def test_keywords_give_the_numbers_of_the_core(folder):
    """``preds=`` and ``logits=`` name the prediction column, the prediction first."""
    d, whole = folder
    by_preds = bcelab.evaluate(d, preds="p", target="y", threads=1)
    # the same call with the keywords in the other order: keywords, so nothing changes
    assert by_preds.stats == bcelab.evaluate(d, target="y", preds="p", threads=2).stats
    ref = BinaryStats(kernel="numpy").update(preds=whole["p"], targets=whole["y"])
    _same_metrics(by_preds.metrics, ref.compute())
    assert by_preds.to_dict()["columns"] == {
        "target": "y",
        "pred": "p",
        "weight": None,
        "by": None,
        "positive_label": None,
    }
    y, z = whole["y"].astype(np.float64), whole["z"].astype(np.float64)
    by_logits = bcelab.evaluate(d, logits="z", target="y")
    assert math.isclose(
        by_logits.metrics.log_loss, float(np.mean(bcelab.bce_with_logits(z, y))), rel_tol=1e-12
    )
    sig = inspect.signature(bcelab.evaluate).parameters
    names = list(sig)
    assert names[:4] == ["source", "preds", "logits", "target"]
    assert all(sig[n].kind is inspect.Parameter.KEYWORD_ONLY for n in names[1:])
    assert "threads" in names and "workers" in names


def test_files_without_rows_are_a_clear_error(tmp_path):
    (tmp_path / "h.csv").write_text("y,p\n")
    with pytest.raises(DataError, match="0 rows"):
        bcelab.evaluate(tmp_path / "h.csv", preds="p", target="y")


def test_progress_callback_and_result_views(folder):
    d, _ = folder
    seen: list[tuple[int, int | None]] = []
    res = bcelab.evaluate(
        d, preds="p", target="y", progress=lambda a, b: seen.append((a, b)), threads=2
    )
    assert seen[-1] == (res.rows, res.rows) and len(seen) == N_FILES
    assert [a for a, _ in seen] == sorted(a for a, _ in seen)
    text = json.dumps(res.to_dict(), allow_nan=False)  # strict JSON: no NaN/inf
    back = json.loads(text)
    assert back["metrics"]["rows"] == res.rows and back["run"]["engine"] == "local"
    assert res.to_frame().num_rows == 1
    fig = res.plot()
    titles = {ax.get_title() for ax in fig.axes}
    assert {
        "Reliability diagram",
        "ROC curve",
        "Precision-recall curve",
        "Scores by label",
    } <= titles
    with pytest.raises(OptionError, match="segment"):
        res.plot(segment="zzz")


def test_the_null_and_nan_segments_can_be_plotted(tmp_path):
    # segment=None plotted every row (the default): the null segment could not be drawn,
    # and a loop over res.segments drew the whole file for it without a word
    rng = np.random.default_rng(3)
    n = 900
    seg = pa.array(rng.choice(["a", "b", None], n))
    f = pa.array(np.where(rng.random(n) < 0.4, np.nan, 1.0))  # NaN in Parquet, not null
    path = tmp_path / "segs.parquet"
    p = rng.random(n)
    pq.write_table(pa.table({"y": (rng.random(n) < p) * 1.0, "p": p, "s": seg, "f": f}), path)
    res = bcelab.evaluate(path, preds="p", target="y", by="s")
    assert res.plot()._suptitle.get_text() == f"{path}: {n:,} rows"
    for s in res.segments:
        fig = res.plot(segment=s.value)
        shown = "null" if s.value is None else s.value
        assert fig._suptitle.get_text() == f"{path} [s = {shown}]"
    res = bcelab.evaluate(path, preds="p", target="y", by="f")
    assert res.plot(segment=float("nan"))._suptitle.get_text() == f"{path} [f = NaN]"
    with pytest.raises(OptionError, match="segment"):
        res.plot(segment=None)  # no null values in f


def test_too_many_segments_is_a_clear_error(tmp_path):
    from bcelab.evaluation.tasks import MAX_SEGMENTS

    n = MAX_SEGMENTS + 1
    t = pa.table({"y": np.ones(n), "p": np.full(n, 0.5), "id": np.arange(n)})
    pq.write_table(t, tmp_path / "ids.parquet")
    with pytest.raises(DataError, match=f"at most {MAX_SEGMENTS} distinct values.*'id'"):
        bcelab.evaluate(tmp_path / "ids.parquet", preds="p", target="y", by="id")


@pytest.mark.parametrize("recalibrate", [None, "platt"])
def test_a_segment_without_a_usable_row_is_reported_not_an_error(tmp_path, recalibrate):
    """A segment whose targets are all missing (labels not in yet, say) gets its row
    counts and NaN metrics (None in JSON, n/a in text); the other segments and the total
    are those of the usable rows."""
    rng = np.random.default_rng(4)
    n = 3000
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < p).astype(float)
    g = np.where(np.arange(n) < 2990, "seen", "pending")
    y[g == "pending"] = np.nan
    pq.write_table(pa.table({"p": p, "y": y, "g": g}), tmp_path / "s.parquet")
    res = bcelab.evaluate(
        tmp_path / "s.parquet", preds="p", target="y", by="g", recalibrate=recalibrate
    )
    seg = {s.value: s for s in res.segments}
    pending, seen = seg["pending"], seg["seen"]
    assert (pending.metrics.rows, pending.metrics.rows_used) == (10, 0)
    assert pending.metrics.invalid_targets == 10 and pending.decomposition is None
    assert math.isnan(pending.metrics.log_loss) and math.isnan(pending.metrics.roc_auc)
    if recalibrate is not None:
        assert pending.recalibrated is not None
        assert math.isnan(pending.recalibrated.log_loss)
    keep = g == "seen"
    ref = BinaryStats(kernel="numpy").update(p[keep], y[keep]).compute()
    _same_metrics(seen.metrics, ref)
    assert res.metrics.rows_used == 2990 and res.metrics.log_loss == pytest.approx(ref.log_loss)
    d = json.loads(json.dumps(res.to_dict()))  # strict JSON: no NaN
    by_value = {s["value"]: s for s in d["segments"]}
    assert by_value["pending"]["metrics"]["log_loss"] is None
    assert by_value["pending"]["rows"] == 10
    from bcelab.evaluation.text import render

    line = next(x for x in render(res).splitlines() if x.startswith("pending"))
    assert line.split()[1:] == ["10"] + ["n/a"] * 6


@pytest.mark.parametrize("target", [None, "", 3])
def test_a_target_that_is_not_a_column_name_is_an_option_error(tmp_path, target):
    # target=None ended in KeyError: None from the column checks
    with pytest.raises(OptionError, match=r"evaluate: target must be a column name"):
        bcelab.evaluate(tmp_path / "not-there.parquet", preds="p", target=target)


def test_probabilities_above_one_point_to_the_callers_logits_argument():
    # the advice was the metric state's own, "BinaryStats.update: ... pass logits=True",
    # an argument evaluate does not have
    with pytest.raises(DomainError) as e:
        bcelab.evaluate({"p": [1.5, 0.2], "y": [1.0, 0.0]}, preds="p", target="y")
    msg = str(e.value)
    assert msg.startswith("probabilities must lie in [0, 1]; 1 value is outside"), msg
    assert "name the predictions with logits= instead of preds=" in msg
    assert "logits=True" not in msg and "update" not in msg
