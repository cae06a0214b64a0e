"""``bcelab.evaluate`` on the local engine (issue 5, sections 3 and 6; Bad input)."""

from __future__ import annotations

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
    res = bcelab.evaluate(d, target="y", pred="p", workers=2)
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


def test_one_and_two_workers_are_bit_identical(folder):
    d, _ = folder
    a = bcelab.evaluate(d, target="y", pred="p", weight="w", workers=1)
    b = bcelab.evaluate(d, target="y", pred="p", weight="w", workers=2)
    c = bcelab.evaluate(d, target="y", pred="p", weight="w", workers=3)
    assert a.stats == b.stats == c.stats
    assert a.to_dict()["metrics"] == b.to_dict()["metrics"]


def test_weights_and_logits_use_the_core_formulas(folder):
    d, whole = folder
    y, z, w = (whole[k].astype(np.float64) for k in ("y", "z", "w"))
    res = bcelab.evaluate(d, target="y", logit="z", weight="w")
    per_row = bcelab.bce_with_logits(z, y)  # the core's exact per-row loss
    assert math.isclose(res.metrics.log_loss, float(np.sum(w * per_row) / np.sum(w)), rel_tol=1e-12)
    assert res.to_dict()["columns"]["logit"] == "z"


def test_by_gives_the_state_of_each_segment(folder):
    d, whole = folder
    res = bcelab.evaluate(d, target="y", pred="p", by="g", workers=2)
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
    a = bcelab.evaluate(tmp_path / "a.parquet", target="y", pred="p", by="g")
    b = bcelab.evaluate(tmp_path / "a.csv", target="y", pred="p", by="g")
    _same_metrics(a.metrics, b.metrics)
    for sa, sb in zip(a.segments, b.segments, strict=True):
        assert sa.value == sb.value
        _same_metrics(sa.metrics, sb.metrics)


def _bad_file(tmp_path, **cols: list[float]) -> object:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({k: np.asarray(v, np.float64) for k, v in cols.items()}), path)
    return path


def test_nan_predictions_and_bad_targets_are_counted_not_dropped(tmp_path):
    path = _bad_file(
        tmp_path, y=[1, 0, 2, -1, 1, 0, np.nan], p=[0.9, np.nan, 0.5, 0.5, 0.8, 0.1, 0.3]
    )
    m = bcelab.evaluate(path, target="y", pred="p").metrics
    assert (m.rows, m.rows_used, m.nan_predictions, m.invalid_targets) == (7, 3, 1, 3)
    assert m.rows_excluded == 4
    # the metrics are those of the three valid rows
    ref = BinaryStats(kernel="numpy").update([0.9, 0.8, 0.1], [1, 1, 0]).compute()
    assert math.isclose(m.log_loss, ref.log_loss, rel_tol=1e-15)
    with pytest.raises(NaNError, match=r"bad\.parquet.*batch 0"):
        bcelab.evaluate(path, target="y", pred="p", strict=True)
    path = _bad_file(tmp_path, y=[1, 0, 2], p=[0.9, 0.1, 0.5])
    with pytest.raises(DomainError, match=r"targets must lie in \[0, 1\].*bad\.parquet"):
        bcelab.evaluate(path, target="y", pred="p", strict=True)


def test_probabilities_outside_unit_interval_without_logit(tmp_path):
    path = _bad_file(tmp_path, y=[1, 0, 1], p=[2.5, -1.0, 0.3])
    with pytest.raises(DomainError, match=r"probabilities must lie in \[0, 1\].*bad\.parquet"):
        bcelab.evaluate(path, target="y", pred="p")
    # the same column as logits is fine: bcelab never guesses which one it is
    assert bcelab.evaluate(path, target="y", logit="p").metrics.rows_used == 3


def test_clip_is_explicit_and_counted(tmp_path):
    path = _bad_file(tmp_path, y=[1, 0, 1, 0], p=[0.0, 1.0, 0.5, 0.5])
    m = bcelab.evaluate(path, target="y", pred="p").metrics
    assert m.log_loss_is_infinite and m.clipped_predictions == 0
    m = bcelab.evaluate(path, target="y", pred="p", clip=1e-7).metrics
    assert m.clipped_predictions == 2 and math.isfinite(m.log_loss)


def test_bad_options_fail_before_reading(tmp_path):
    missing = tmp_path / "not-there.parquet"  # an OptionError, not a DataError, proves the order
    with pytest.raises(OptionError, match="exactly one prediction column"):
        bcelab.evaluate(missing, target="y", pred="p", logit="z")
    with pytest.raises(OptionError, match="exactly one prediction column"):
        bcelab.evaluate(missing, target="y")
    with pytest.raises(OptionError, match="threshold"):
        bcelab.evaluate(missing, target="y", pred="p", threshold=0.537)
    with pytest.raises(OptionError, match="engine"):
        bcelab.evaluate(missing, target="y", pred="p", engine="spark")
    with pytest.raises(OptionError, match="distinct columns"):
        bcelab.evaluate(missing, target="y", pred="y")
    with pytest.raises(OptionError, match="clip"):
        bcelab.evaluate(missing, target="y", pred="p", clip=0.7)
    with pytest.raises(DataError, match="does not exist"):
        bcelab.evaluate(missing, target="y", pred="p")


def test_files_without_rows_are_a_clear_error(tmp_path):
    (tmp_path / "h.csv").write_text("y,p\n")
    with pytest.raises(DataError, match="0 rows"):
        bcelab.evaluate(tmp_path / "h.csv", target="y", pred="p")


def test_progress_callback_and_result_views(folder):
    d, _ = folder
    seen: list[tuple[int, int | None]] = []
    res = bcelab.evaluate(
        d, target="y", pred="p", progress=lambda a, b: seen.append((a, b)), workers=2
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


def test_too_many_segments_is_a_clear_error(tmp_path):
    from bcelab.evaluation.tasks import MAX_SEGMENTS

    n = MAX_SEGMENTS + 1
    t = pa.table({"y": np.ones(n), "p": np.full(n, 0.5), "id": np.arange(n)})
    pq.write_table(t, tmp_path / "ids.parquet")
    with pytest.raises(DataError, match=f"at most {MAX_SEGMENTS} distinct values.*'id'"):
        bcelab.evaluate(tmp_path / "ids.parquet", target="y", pred="p", by="id")
