"""PairedBootstrapStats: engines, invariance (order, batches, threads, merges), bytes, errors."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from bcelab import errors
from bcelab.errors import DataError, DomainError, EmptyReductionError, NaNError, OptionError
from bcelab.metrics import BinaryStats
from bcelab.metrics.paired import PairedBootstrapStats
from bcelab.metrics.paired_layout import LAYOUT_ID
from bcelab.metrics.serialize import arrays_to_bytes

kernel = pytest.importorskip("bcelab.kernels.bootstrap", reason="numba (bcelab[fast]) is missing")


def _data(n: int, seed: int = 0, *, soft: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = rng.normal(-0.5, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-s))).astype(float)
    if soft:
        y = np.where(rng.random(n) < 0.3, rng.random(n), y)
    za = 1.3 * (s + rng.normal(0, 0.5, n)) + 0.2
    zb = 0.8 * (s + rng.normal(0, 0.7, n))
    return {
        "y": y,
        "za": za,
        "zb": zb,
        "a": 1 / (1 + np.exp(-za)),
        "b": 1 / (1 + np.exp(-zb)),
        "ids": rng.permutation(10 * n)[:n],
    }


def _state(**kw: object) -> PairedBootstrapStats:
    return PairedBootstrapStats(replicates=kw.pop("replicates", 40), seed=3, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "case", ["probs64", "probs32", "logits", "soft", "weights", "big_weights", "excluded", "clip"]
)
def test_kernel_state_equals_numpy_state(case: str) -> None:
    d = _data(70_000 if case == "probs64" else 9_000, soft=case == "soft")
    kw: dict[str, object] = {"ids": d["ids"]}
    a, b, y = d["a"], d["b"], d["y"]
    rng = np.random.default_rng(1)
    if case == "probs32":
        a, b, y = a.astype(np.float32), b.astype(np.float32), y.astype(np.float32)
    if case == "logits":
        a, b, kw["logits"] = d["za"], d["zb"], True
    if case == "weights":
        kw["weights"] = np.where(rng.random(y.size) < 0.1, 0.0, rng.exponential(1.0, y.size))
    if case == "big_weights":  # values above 256 use the high words; tiny ones round
        kw["weights"] = 10.0 ** rng.uniform(-9, 5, y.size)
    if case == "excluded":
        a, y = a.copy(), y.copy()
        a[::17] = np.nan
        y[::23] = 2.0
    if case == "clip":
        a = np.where(rng.random(y.size) < 0.05, 0.0, a)
        kw["clip"] = 1e-12
    states = [
        _state(kernel=e, threads=t).update(a, b, y, **kw)
        for e, t in (("numpy", 1), ("compiled", 1), ("compiled", 3))
    ]
    assert states[0] == states[1] == states[2]
    assert states[0].to_bytes() == states[2].to_bytes()


def test_rows_in_any_order_and_batches_give_the_same_bits() -> None:
    d = _data(12_000)
    whole = _state().update(d["a"], d["b"], d["y"], ids=d["ids"])
    perm = np.random.default_rng(2).permutation(12_000)
    parts = np.array_split(perm, 4)
    pieces = _state()
    for idx in parts[::-1]:
        pieces.update(d["a"][idx], d["b"][idx], d["y"][idx], ids=d["ids"][idx])
    assert pieces == whole
    merged = PairedBootstrapStats.merge_all(
        _state(threads=2).update(d["a"][i], d["b"][i], d["y"][i], ids=d["ids"][i]) for i in parts
    )
    assert merged == whole
    ra, rb = whole.compute().to_dict(), merged.compute().to_dict()
    assert json.dumps(ra) == json.dumps(rb)


def test_file_and_row_keys_do_not_depend_on_batch_size() -> None:
    d = _data(10_000)
    one = _state().update(d["a"], d["b"], d["y"], source_key="f.parquet", row_offset=0)
    assert one.keyed_by == "file and row"
    two = _state()
    for s in range(0, 10_000, 3_333):
        e = min(s + 3_333, 10_000)
        two.update(d["a"][s:e], d["b"][s:e], d["y"][s:e], source_key="f.parquet", row_offset=s)
    assert one == two
    # default offsets: consecutive batches of one stream are keyed as one batch
    three = _state()
    three.update(d["a"][:4000], d["b"][:4000], d["y"][:4000], source_key="f.parquet")
    three.update(d["a"][4000:], d["b"][4000:], d["y"][4000:], source_key="f.parquet")
    assert three == one
    # row_index (e.g. a segment's rows) keys each row by its position
    idx = np.flatnonzero(d["y"] == 1)
    seg = _state().update(
        d["a"][idx], d["b"][idx], d["y"][idx], source_key="f.parquet", row_index=idx
    )
    seg2 = _state()
    for part in np.array_split(np.arange(idx.size), 3)[::-1]:
        i = idx[part]
        seg2.update(d["a"][i], d["b"][i], d["y"][i], source_key="f.parquet", row_index=i)
    assert seg == seg2


def test_point_values_equal_binary_stats() -> None:
    d = _data(50_000, soft=True)
    w = np.random.default_rng(4).exponential(1.0, 50_000)
    st = _state().update(d["a"], d["b"], d["y"], weights=w, ids=d["ids"])
    r = st.compute().metrics
    for i, p in enumerate((d["a"], d["b"])):
        ref = BinaryStats().update(p, d["y"], weights=w).compute()
        got = {k: v["ab"[i]] for k, v in r.items()}
        for k in ("log_loss", "ne", "brier", "calibration"):
            assert got[k] == pytest.approx(getattr(ref, k), rel=1e-13), k
        assert got["roc_auc"] == pytest.approx(ref.roc_auc, rel=1e-12)
        assert got["pr_auc"] == pytest.approx(ref.pr_auc, rel=1e-12)
        assert got["ece"] == pytest.approx(ref.ece_uniform, rel=1e-9)


def test_decomposition_identity_and_uncertainty() -> None:
    d = _data(20_000)
    st = _state().update(d["a"], d["b"], d["y"], ids=d["ids"])
    m = st.compute().metrics
    base = d["y"].mean()
    h = -(base * np.log(base) + (1 - base) * np.log1p(-base))
    for k in "ab":
        ll = m["log_loss"][k]
        unc, dsc, mcb = (m[x][k] for x in ("uncertainty", "discrimination", "miscalibration"))
        assert unc == pytest.approx(h, rel=1e-12)
        assert abs(ll - (unc - dsc + mcb)) < 1e-12
        assert mcb >= 0 and dsc >= 0
    reps = st.replicate_values(("log_loss", "uncertainty", "discrimination", "miscalibration"))
    ident = reps["uncertainty"] - reps["discrimination"] + reps["miscalibration"]
    np.testing.assert_allclose(ident, reps["log_loss"], atol=1e-12)
    assert m["uncertainty"]["diff"] == 0 and m["uncertainty"]["p_value"] == 1


def test_point_decomposition_is_the_evaluation_decomposition() -> None:
    """The paired point values use the decomposition of ``evaluate`` (one implementation):
    each model's terms equal ``decompose_stats`` of its own ``BinaryStats``."""
    from bcelab.metrics import decompose_stats

    d = _data(30_000, seed=4)
    w = np.random.default_rng(5).exponential(1.0, d["y"].size)
    st = _state().update(d["a"], d["b"], d["y"], weights=w, ids=d["ids"])
    m = st.compute(metrics=("uncertainty", "discrimination", "miscalibration")).metrics
    for k, p in (("a", d["a"]), ("b", d["b"])):
        ref = decompose_stats(BinaryStats().update(p, d["y"], weights=w)).log_loss
        assert m["uncertainty"][k] == pytest.approx(ref.uncertainty, rel=1e-12)
        assert m["discrimination"][k] == pytest.approx(ref.discrimination, rel=1e-9, abs=1e-12)
        assert m["miscalibration"][k] == pytest.approx(ref.miscalibration, rel=1e-9, abs=1e-12)


def test_identical_models_and_result_shapes() -> None:
    d = _data(3_000)
    st = _state(replicates=40).update(d["a"], d["a"], d["y"], ids=d["ids"])
    res = st.compute(confidence=0.9)
    out = res.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["replicates"] == 40 and out["seed"] == 3 and out["confidence"] == 0.9
    assert out["keyed_by"] == "id" and out["rows"] == 3_000
    assert out["histogram_bins"]["replicate"] == 2576
    for name, m in out["metrics"].items():
        assert m["diff"] == 0 and m["ci"] == [0, 0] and m["p_value"] == 1, name
    assert "<table>" in res._repr_html_() and "log_loss" in res._repr_html_()


def test_delta_method_agrees_with_bootstrap() -> None:
    d = _data(30_000)
    st = _state(replicates=200).update(d["a"], d["b"], d["y"])  # rows keyed by position
    m = st.compute(metrics=("log_loss", "ne", "calibration")).metrics
    for k in ("log_loss", "ne", "calibration"):
        assert m[k]["se_delta"]["diff"] == pytest.approx(m[k]["se"], rel=0.25), k
        assert m[k]["ci"][0] < m[k]["diff"] < m[k]["ci"][1]


def test_delta_method_is_nan_when_rows_share_ids() -> None:
    # 100 users of 40 rows, model B shifted per user: the rows of one user move together,
    # which the bootstrap over ids follows and a delta method over rows would not (its
    # standard error came out 2.5 times too small)
    rng = np.random.default_rng(1)
    uid = np.repeat(np.arange(100), 40)
    s = rng.normal(-1, 1.5, uid.size)
    y = (rng.random(uid.size) < 1 / (1 + np.exp(-s))).astype(float)
    a, b = 1 / (1 + np.exp(-s)), 1 / (1 + np.exp(-(s + rng.normal(0, 1.5, 100)[uid])))
    m = _state(replicates=200).update(a, b, y, ids=uid).compute().metrics
    for k in ("log_loss", "ne", "calibration"):
        assert all(np.isnan(v) for v in m[k]["se_delta"].values()), k
        assert np.isfinite(m[k]["se"]), k


def test_merge_rules() -> None:
    d = _data(2_000)
    a = _state().update(d["a"], d["b"], d["y"], ids=d["ids"])
    with pytest.raises(OptionError, match="same replicates and seed"):
        a.merge(PairedBootstrapStats(replicates=40, seed=4))
    with pytest.raises(OptionError, match="same replicates and seed"):
        a.merge(PairedBootstrapStats(replicates=41, seed=3))
    with pytest.raises(OptionError, match="keyed the same way"):
        a.merge(_state().update(d["a"], d["b"], d["y"], source_key="x"))
    p = _state().update(d["a"], d["b"], d["y"])
    with pytest.raises(OptionError, match="distinct source keys"):
        p.merge(_state().update(d["a"], d["b"], d["y"]))
    with pytest.raises(OptionError, match="keyed the same way"):
        a.update(d["a"], d["b"], d["y"])
    total = a + _state()
    assert total == a and total is not a
    with pytest.raises(OptionError, match="at least one"):
        PairedBootstrapStats.merge_all([])


def test_bytes_and_pickle() -> None:
    d = _data(2_000)
    a = _state(threads=2).update(d["a"], d["b"], d["y"], ids=d["ids"])
    b = PairedBootstrapStats.from_bytes(a.to_bytes())
    assert b == a and b.replicates == 40 and b.seed == 3 and b.keyed_by == "id"
    c = pickle.loads(pickle.dumps(a))
    assert c == a and c.threads == 2
    raw = bytearray(a.to_bytes())
    raw[100] ^= 1
    with pytest.raises(DataError, match=r"PairedBootstrapStats\.from_bytes"):
        PairedBootstrapStats.from_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"PairedBootstrapStats\.from_bytes"):
        PairedBootstrapStats.from_bytes(BinaryStats().to_bytes())
    with pytest.raises(DataError, match=r"PairedBootstrapStats\.from_bytes") as e:
        PairedBootstrapStats.from_bytes(b"not a state, but long enough")
    assert "BinaryStats" not in str(e.value) and "magic of a bcelab state" in str(e.value)
    arrays = {k: v.copy() for k, v in a._canonical().items()}
    arrays["rep_hist_lo"][0, 0, 0, 0] = -1
    with pytest.raises(DataError, match="consistent"):  # the whole-histogram bytes
        PairedBootstrapStats.from_bytes(arrays_to_bytes(arrays, layout_id=LAYOUT_ID))


def test_errors_leave_the_state_unchanged() -> None:
    d = _data(1_000)
    st = _state().update(d["a"], d["b"], d["y"], ids=d["ids"])
    before = st.to_bytes()
    bad = d["a"].copy()
    bad[5] = 1.5
    with pytest.raises(DomainError, match="preds_a"):
        st.update(bad, d["b"], d["y"], ids=d["ids"])
    with pytest.raises(DomainError, match="infinite loss") as e:
        st.update(np.where(d["y"] == 1, 0.0, d["a"]), d["b"], d["y"], ids=d["ids"])
    assert "clip=1e-15" in e.value.fix
    with pytest.raises(DomainError, match="infinite loss") as e:  # clip is refused with logits
        st.update(
            np.where(d["y"] == 1, -np.inf, d["za"]), d["zb"], d["y"], ids=d["ids"], logits=True
        )
    assert "clip" not in e.value.fix and "drop or correct" in e.value.fix
    with pytest.raises(DomainError, match="weights must be finite"):
        st.update(d["a"], d["b"], d["y"], ids=d["ids"], weights=-np.ones(1_000))
    with pytest.raises(DomainError, match="2\\*\\*32"):
        st.update(d["a"], d["b"], d["y"], ids=d["ids"], weights=np.full(1_000, 5e9))
    with pytest.raises(DomainError, match="weight \\* loss"):
        st.update(
            d["za"] * 1e9, d["zb"], d["y"], ids=d["ids"], weights=np.full(1_000, 50.0), logits=True
        )
    with pytest.raises(DomainError, match="strict"):
        st.update(d["a"], d["b"], np.where(d["y"] == 1, -1.0, 0.0), ids=d["ids"], strict=True)
    with pytest.raises(NaNError, match="strict"):
        st.update(
            np.where(np.arange(1_000) == 3, np.nan, d["a"]),
            d["b"],
            d["y"],
            ids=d["ids"],
            strict=True,
        )
    with pytest.raises(OptionError, match="ids"):
        st.update(d["a"], d["b"], d["y"], ids=d["ids"], source_key="x")
    with pytest.raises(OptionError, match="clip"):
        st.update(d["za"], d["zb"], d["y"], ids=d["ids"], logits=True, clip=1e-7)
    assert st.to_bytes() == before


def test_counts_and_options() -> None:
    d = _data(1_000)
    a, y = d["a"].copy(), d["y"].copy()
    a[:10] = np.nan
    y[5:20] = -1
    w = np.ones(1_000)
    w[100:110] = 0
    st = _state().update(a, d["b"], y, weights=w, ids=d["ids"])
    assert st.count("rows") == 1_000 and st.count("used") == 980 and st.count("weighted") == 970
    assert st.count("nan_a") == 10 and st.count("invalid_target") == 15
    with pytest.raises(OptionError, match="replicates"):
        PairedBootstrapStats(replicates=0)
    with pytest.raises(OptionError, match="seed"):
        PairedBootstrapStats(seed=-1)
    with pytest.raises(OptionError, match="kernel"):
        PairedBootstrapStats(kernel="gpu")
    with pytest.raises(OptionError, match="threads"):
        PairedBootstrapStats(threads=0)
    with pytest.raises(OptionError, match="confidence"):
        st.compute(confidence=1.0)
    few = PairedBootstrapStats(replicates=20, seed=3).update(d["a"], d["b"], d["y"])
    with pytest.raises(
        OptionError, match=r"20 with confidence=0.95. pass confidence=0.9047 or lower"
    ):
        few.compute()  # 95% intervals need 39 replicates: the tails would hold none
    assert few.compute(confidence=0.9047).confidence == 0.9047
    with pytest.raises(OptionError, match="metrics"):
        st.compute(metrics=("auc",))
    with pytest.raises(OptionError, match="at least one metric; received an empty sequence"):
        st.compute(metrics=[])  # no silently empty comparison
    with pytest.raises(OptionError, match="received metrics=5"):
        st.replicate_values(metrics=5)  # type: ignore[arg-type]
    assert list(st.compute(metrics="ne").metrics) == ["ne"]
    with pytest.raises(EmptyReductionError):
        _state().compute()
    assert 45e6 < PairedBootstrapStats().nbytes < 60e6  # 200 replicates


def test_weights_too_small_for_the_bootstrap_sums_are_refused_at_compute() -> None:
    # each replicate value is rounded to 2**-32: weights of 1e-9 moved a log-loss
    # interval by 6%; a mean weight of at least 2**-20 keeps the sums within 2**-13
    d = _data(2_000)
    one = _state().update(d["a"], d["b"], d["y"], ids=d["ids"], weights=np.ones(2_000))
    want = one.compute().metrics["log_loss"]["ci"]
    small = _state().update(d["a"], d["b"], d["y"], ids=d["ids"], weights=np.full(2_000, 2.0**-19))
    width = want[1] - want[0]
    np.testing.assert_allclose(small.compute().metrics["log_loss"]["ci"], want, atol=1e-4 * width)
    for w in (1e-9, 2.0**-700):
        tiny = _state().update(d["a"], d["b"], d["y"], ids=d["ids"], weights=np.full(2_000, w))
        with pytest.raises(DomainError, match=r"mean is at least 2\*\*-20.*multiply every weight"):
            tiny.compute()
    # a few tiny weights among ordinary ones are fine: the mean decides
    w = np.where(np.arange(2_000) % 10 == 0, 1e-12, 1.0)
    mixed = _state().update(d["a"], d["b"], d["y"], ids=d["ids"], weights=w)
    assert (
        mixed.compute().metrics["log_loss"]["ci"][0] < mixed.compute().metrics["log_loss"]["ci"][1]
    )


def test_a_loss_too_large_for_the_fixed_point_sums_is_refused_without_weights() -> None:
    # the weighted check alone let a logit of 2e14 through without weights: its square
    # overflowed the point estimate's moments (a wrong delta-method error, no message)
    y = np.array([0.0, 1.0])
    st = _state()
    before = st.to_bytes()
    for x in (2e14, 4.3e9):
        with pytest.raises(DomainError, match=r"losses below 2\*\*32.*scale of the logits"):
            st.update(np.array([x, 1.0]), np.array([0.0, 1.0]), y, logits=True)
    assert st.to_bytes() == before
    st.update(np.array([4e9, 1.0]), np.array([0.0, 1.0]), y, logits=True)  # below 2**32
    want = (4e9 + math.log1p(math.exp(-1.0))) / 2
    assert st.compute().metrics["log_loss"]["a"] == pytest.approx(want, rel=1e-12)


def test_one_class_gives_nan_ne_and_calibration_errors_without_warnings() -> None:
    # NE needs both classes and calibration a positive label weight; their delta-method
    # errors are NaN like the metrics, without a RuntimeWarning on the way
    import warnings

    for y in (np.zeros(6), np.ones(6)):
        st = _state().update(np.full(6, 0.3), np.full(6, 0.6), y)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m = st.compute().metrics
        assert np.isnan(m["ne"]["diff"]) and np.isnan(m["ne"]["se_delta"]["diff"])
        # constant models: no variance (not NaN, nor a rounding residue's square root)
        assert m["log_loss"]["se_delta"] == {"a": 0.0, "b": 0.0, "diff": 0.0}
    m = _state().update(np.full(6, 0.3), np.full(6, 0.6), np.zeros(6)).compute().metrics
    assert np.isnan(m["calibration"]["se_delta"]["a"])


def test_update_bool_options_must_be_bools() -> None:
    d = _data(200)
    st = _state()
    for kw in ({"strict": "False"}, {"strict": 1}, {"logits": "False"}, {"logits": 0}):
        with pytest.raises(OptionError, match="must be True or False"):
            st.update(d["a"], d["b"], d["y"], **kw)  # type: ignore[arg-type]
    assert st.rows == 0
    ref = _state().update(d["a"], d["b"], d["y"])
    assert _state().update(d["a"], d["b"], d["y"], logits=np.False_, strict=np.False_) == ref


def test_an_empty_batch_keys_nothing() -> None:
    """A partition left empty by a filter must not fix how the state's rows are keyed."""
    d = _data(200)
    empty = _state().update([], [], [])
    assert empty.keyed_by is None and empty.rows == 0
    with_ids = _state().update(d["a"], d["b"], d["y"], ids=d["ids"])
    assert empty.update(d["a"], d["b"], d["y"], ids=d["ids"]) == with_ids
    assert _state().update([], [], []).merge(with_ids) == with_ids
    assert with_ids.copy().merge(_state().update([], [], [])) == with_ids


def test_an_id_column_of_another_type_is_named_under_the_method() -> None:
    # the kernels' "ids must be integers or strings" came without the method's name
    s = PairedBootstrapStats(replicates=4)
    p, y = np.array([0.2, 0.7]), np.array([0.0, 1.0])
    for ids, received in (
        (np.array([0.5, 1.5]), "received dtype float64"),
        (np.array(["a", None], dtype=object), "received a value of type NoneType"),
    ):
        with pytest.raises(errors.DTypeError) as e:
            s.update(p, p, y, ids=ids)
        assert str(e.value).startswith("PairedBootstrapStats.update: ids must be integers")
        assert received in e.value.received
    assert s.rows == 0


def test_the_bytes_of_the_other_state_class_name_the_class_to_read_them() -> None:
    # they said "a different histogram layout" and quoted the two layout ids
    one = BinaryStats().update(np.array([0.2, 0.7]), np.array([0.0, 1.0])).to_bytes()
    with pytest.raises(DataError) as e:
        PairedBootstrapStats.from_bytes(one)
    assert (
        e.value.received
        == "the bytes of a BinaryStats (written by its to_bytes), not of a PairedBootstrapStats"
    )
    assert e.value.fix == "read them with BinaryStats.from_bytes"
    assert str(e.value).startswith("PairedBootstrapStats.from_bytes: ")
    with pytest.raises(DataError) as e:
        BinaryStats.from_bytes(PairedBootstrapStats(replicates=4).to_bytes())
    assert e.value.fix == "read them with PairedBootstrapStats.from_bytes"
