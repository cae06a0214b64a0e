"""Bad and unusual input to BinaryStats: counted or refused, never silently dropped."""

from __future__ import annotations

import numpy as np
import pytest

import bcelab
from bcelab.errors import DomainError, DTypeError, NaNError, OptionError, ShapeError
from bcelab.metrics import BinaryStats

Y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
P = np.array([0.9, 0.2, 0.6, 0.4, 0.7, 0.1])


def test_nan_predictions_and_invalid_targets_are_counted_and_excluded() -> None:
    y = np.concatenate([Y, [np.nan, -1.0, 2.0, 1.0, np.nan]])
    p = np.concatenate([P, [0.5, 0.5, 0.5, np.nan, np.nan]])
    s = BinaryStats().update(p, y)
    m = s.compute()
    assert (m.rows, m.rows_used, m.rows_excluded) == (11, 6, 5)
    assert m.nan_predictions == 2 and m.invalid_targets == 4
    # the metrics are those of the six clean rows
    clean = BinaryStats().update(P, Y).compute()
    assert m.log_loss == clean.log_loss and m.roc_auc == clean.roc_auc
    assert m.to_dict()["rows_excluded"] == 5


def test_strict_raises_instead() -> None:
    with pytest.raises(NaNError, match="strict"):
        BinaryStats().update(np.where(Y == 1, np.nan, P), Y, strict=True)
    with pytest.raises(DomainError, match=r"\{-1, 1\}"):
        BinaryStats().update(P, 2 * Y - 1, strict=True)
    with pytest.raises(DomainError, match=r"; 1 target is outside or NaN \(first: 2.0 at row 0\)"):
        BinaryStats().update(np.array([0.5, 0.5]), np.array([2.0, 0.0]), strict=True)


def test_probabilities_outside_unit_interval_are_an_error_and_leave_state_unchanged() -> None:
    s = BinaryStats().update(P, Y)
    before = s.to_bytes()
    with pytest.raises(DomainError, match="logits=True") as e:
        s.update(P * 3 - 1, Y)
    assert "first: 1.7" in str(e.value) and "at row 0" in str(e.value)
    assert s.to_bytes() == before
    with pytest.raises(DomainError):
        s.update(np.array([0.5, np.inf, 0.5, 0.5, 0.5, 0.5]), Y)
    # the same values as logits are fine
    s.update(P * 3 - 1, Y, logits=True)
    assert s.rows == 12


def test_weights_are_checked() -> None:
    for bad in (-1.0, np.nan, np.inf):
        w = np.ones(6)
        w[3] = bad
        with pytest.raises(DomainError, match="weights"):
            BinaryStats().update(P, Y, weights=w)
    with pytest.raises(ShapeError):
        BinaryStats().update(P, Y, weights=np.ones(5))
    # integer and boolean weights are accepted; weight 0 removes a row's contribution
    m = BinaryStats().update(P, Y, weights=np.array([1, 1, 1, 1, 1, 0])).compute()
    ref = BinaryStats().update(P[:5], Y[:5]).compute()
    assert m.log_loss == pytest.approx(ref.log_loss, rel=1e-15)
    assert m.rows == 6 and m.weight_total == 5.0


def test_one_weight_per_sample_is_expanded_as_for_the_losses() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, (8, 3))
    y = (rng.uniform(size=(8, 3)) < p).astype(float)
    w = rng.uniform(0, 2, 8)
    per_sample = BinaryStats().update(p, y, weights=w).compute()
    full = BinaryStats().update(p, y, weights=np.repeat(w[:, None], 3, axis=1)).compute()
    assert per_sample.to_dict() == full.to_dict()
    want = float(bcelab.bce(p, y, weights=w, reduction="weighted_mean"))
    assert per_sample.log_loss == pytest.approx(want, rel=1e-14)
    with pytest.raises(ShapeError, match="a leading part of it"):
        BinaryStats().update(p, y, weights=np.ones(3))


def test_zero_weight_on_an_infinite_loss_contributes_zero() -> None:
    m = BinaryStats().update(np.array([0.0, 0.5]), [1.0, 1.0], weights=[0.0, 1.0]).compute()
    assert m.log_loss == pytest.approx(np.log(2), rel=1e-15)


def test_exact_loss_is_infinite_without_clip_and_clip_is_counted() -> None:
    y, p = np.array([1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0])
    m = BinaryStats().update(p, y).compute()
    assert m.log_loss_is_infinite and m.to_dict()["log_loss"] is None
    m = BinaryStats().update(p, y, clip=1e-7).compute()
    assert m.clipped_predictions == 3
    assert m.log_loss == pytest.approx(-np.log(1e-7) / 3 - 2 * np.log1p(-1e-7) / 3, rel=1e-12)
    with pytest.raises(OptionError):
        BinaryStats().update(p, y, clip=0.7)
    with pytest.raises(OptionError, match="logits"):
        BinaryStats().update(p, y, clip=1e-7, logits=True)


def test_shapes_and_dtypes() -> None:
    with pytest.raises(ShapeError, match="never broadcasts"):
        BinaryStats().update(P[:5], Y)
    with pytest.raises(DTypeError, match="swapped"):
        BinaryStats().update(Y.astype(np.int64), P)
    with pytest.raises(DTypeError):
        BinaryStats().update([0.1, 0.2], ["a", "b"])
    # every element is a row, any shape: (3, 2) equals the flat six rows
    a = BinaryStats().update(P.reshape(3, 2), Y.reshape(3, 2))
    assert a == BinaryStats().update(P, Y)
    # bool / int targets, lists, float16 and float32 predictions
    b = BinaryStats().update(P.tolist(), Y.astype(bool))
    assert b == BinaryStats().update(P, Y)
    c = BinaryStats().update(P.astype(np.float16), Y.astype(np.int8)).compute()
    assert c.rows_used == 6


def test_threshold_must_be_an_exact_edge() -> None:
    s = BinaryStats().update(P, Y)
    for t in (0.5, 0.37, 0.01, 1 / 15, 2.0**-10):
        s.compute(threshold=t)
    for t in (0.123, 0.1 + 0.2, 0.0, 1.0, -1.0, float("inf")):
        with pytest.raises(OptionError, match=r"exact bin edge in \(0, 1\)"):
            s.compute(threshold=t)
    for t in ("0.5", True, None, b"0.5", float("nan")):  # float() would take the first two
        with pytest.raises(OptionError, match=r"threshold must be a number in \(0, 1\)"):
            s.compute(threshold=t)
    with pytest.raises(OptionError):
        s.compute(n_calibration_bins=0)


def test_torch_and_jax_inputs() -> None:
    torch = pytest.importorskip("torch")
    ref = BinaryStats().update(P, Y)
    assert BinaryStats().update(torch.tensor(P, requires_grad=True), torch.tensor(Y)) == ref
    bf = BinaryStats().update(torch.tensor(P).to(torch.bfloat16), torch.tensor(Y))
    assert bf.rows_used == 6
    jnp = pytest.importorskip("jax.numpy")
    s = BinaryStats().update(jnp.asarray(P.astype(np.float32)), jnp.asarray(Y))
    assert s == BinaryStats().update(P.astype(np.float32), Y)


def test_options_are_checked() -> None:
    with pytest.raises(OptionError, match="kernel must be one of"):
        BinaryStats(kernel="gpu")
    with pytest.raises(OptionError, match="threads must be an integer >= 1"):
        BinaryStats(threads=0)
    with pytest.raises(OptionError, match="threads"):
        BinaryStats(threads=True)
    with pytest.raises(TypeError):
        BinaryStats(engine="numpy")  # type: ignore[call-arg]  # engine= is evaluate()'s
    with pytest.raises(OptionError):
        BinaryStats().merge("not a state")  # type: ignore[arg-type]


def test_str_and_to_dict_are_readable_and_json_safe() -> None:
    import json

    m = BinaryStats().update(P, Y).compute()
    text = str(m)
    for word in ("log loss", "NE / RIG", "ROC-AUC", "PR-AUC", "ECE", "p >= 0.5"):
        assert word in text
    d = m.to_dict()
    json.dumps(d, allow_nan=False)
    one_class = BinaryStats().update(np.array([0.2, 0.5, 0.9]), np.ones(3)).compute()
    assert np.isnan(one_class.roc_auc) and one_class.to_dict()["roc_auc"] is None


def test_str_says_which_metrics_one_class_leaves_undefined() -> None:
    all_ones = str(BinaryStats().update(np.array([0.2, 0.5, 0.9]), np.ones(3)).compute())
    assert "NE / RIG          undefined: every used target is 1" in all_ones
    assert "ROC-AUC           undefined: needs positive and negative rows" in all_ones
    assert "PR-AUC            1  (no binning error)" in all_ones
    assert "nan" not in all_ones.split("at p >=")[0]
    all_zeros = str(BinaryStats().update(np.array([0.2, 0.4]), np.zeros(2)).compute())
    assert "every used target is 0" in all_zeros
    assert "calibration       undefined: no positive targets  (mean prediction 0.3;" in all_zeros
    assert "PR-AUC            undefined: needs positive rows" in all_zeros
    both = str(BinaryStats().update(P, Y).compute())
    assert "undefined" not in both


def test_read_only_and_scalar_inputs() -> None:
    # pyarrow's zero-copy to_numpy() gives read-only arrays
    y, p = Y.astype(np.float32), P.astype(np.float32)
    y.setflags(write=False)
    p.setflags(write=False)
    assert BinaryStats().update(p, y) == BinaryStats().update(p.copy(), Y.astype(np.float32))
    assert BinaryStats().update(0.5, 1.0).rows == 1


def test_masked_arrays_are_refused_and_leave_the_state_unchanged() -> None:
    s = BinaryStats().update(P, Y)
    before = s.to_bytes()
    hidden = np.ma.masked_array(P, mask=P < 0.3)
    with pytest.raises(DTypeError, match="2 of 6 values masked") as e:
        s.update(hidden, Y)
    assert "weights=keep" in str(e.value)
    with pytest.raises(DTypeError, match="targets must be a plain array"):
        s.update(P, np.ma.masked_array(Y, mask=Y == 0))
    assert s.to_bytes() == before
    keep = ~np.ma.getmaskarray(hidden)  # the fix the message gives
    kept = BinaryStats().update(hidden.data, Y, weights=keep).compute()
    assert kept.log_loss == BinaryStats().update(P[keep], Y[keep]).compute().log_loss
    whole = BinaryStats().update(np.ma.masked_array(P, mask=False), Y)
    assert whole.to_bytes() == BinaryStats().update(P, Y).to_bytes()


@pytest.mark.parametrize("name", ["logits", "strict"])
@pytest.mark.parametrize("value", ["False", "True", 0, 1, None, np.array([0, 0])])
def test_update_bool_options_must_be_bools(name: str, value: object) -> None:
    # logits="False" read the probabilities as logits (a non-empty string is truthy)
    y, p = np.array([0.0, 1.0, 0.0, 1.0]), np.array([0.1, 0.9, 0.2, 0.8])
    s = BinaryStats()
    with pytest.raises(OptionError, match=f"{name} must be True or False"):
        s.update(p, y, **{name: value})
    assert s.is_empty
    ref = BinaryStats().update(p, y).compute().log_loss
    assert BinaryStats().update(p, y, logits=np.False_, strict=np.True_).compute().log_loss == ref
