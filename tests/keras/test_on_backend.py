"""bcelab.keras on one Keras backend, chosen by KERAS_BACKEND (jax or torch).

Keras reads KERAS_BACKEND once, at import, so ``tests/keras/test_keras.py`` runs this
file in a fresh process per backend; in a run without KERAS_BACKEND it is skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.keras.backend import chosen_backend

BACKEND = chosen_backend()

keras = pytest.importorskip("keras")

import bcelab.keras as bk  # noqa: E402
from bcelab.errors import DomainError, OptionError, ShapeError  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402


def _data(seed: int, shape=(64, 3), hard: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.random(shape).astype("float32")
    if hard:
        y = (y < 0.4).astype("float32")
    p = np.clip(rng.random(shape), 0.01, 0.99).astype("float32")
    return y, p


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


# --- losses ---------------------------------------------------------------------------


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_parity_with_keras_binary_crossentropy(from_logits, smoothing):
    # Reference: keras.losses.BinaryCrossentropy.  With p inside [0.01, 0.99] its 1e-7
    # clip is inactive, so both are the same formula; they agree to float32 rounding.
    y, p = _data(0)
    pred = np.log(p / (1 - p)).astype("float32") if from_logits else p
    ours = bk.BinaryCrossentropy(from_logits=from_logits, label_smoothing=smoothing)
    ref = keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=smoothing)
    np.testing.assert_allclose(float(_np(ours(y, pred))), float(_np(ref(y, pred))), rtol=3e-6)
    sw = np.linspace(0.0, 2.0, y.shape[0]).astype("float32")
    np.testing.assert_allclose(
        float(_np(ours(y, pred, sample_weight=sw))),
        float(_np(ref(y, pred, sample_weight=sw))),
        rtol=3e-6,
    )


@pytest.mark.parametrize("shape", [(12, 1), (12, 3), (4, 3, 5)])
@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size", "mean_with_sample_weight"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_reductions_give_keras_numbers(shape, reduction, from_logits):
    # Reference: keras.losses.BinaryCrossentropy, which averages each sample's outputs
    # (the last axis) before it reduces over the samples; "sum" included
    y, p = _data(3, shape=shape, hard=True)
    pred = np.log(p / (1 - p)).astype("float32") if from_logits else p
    ours = bk.BinaryCrossentropy(reduction=reduction, from_logits=from_logits)
    ref = keras.losses.BinaryCrossentropy(reduction=reduction, from_logits=from_logits)
    np.testing.assert_allclose(float(_np(ours(y, pred))), float(_np(ref(y, pred))), rtol=3e-6)
    if len(shape) == 2:
        sw = np.linspace(0.0, 2.0, shape[0]).astype("float32")
        np.testing.assert_allclose(
            float(_np(ours(y, pred, sample_weight=sw))),
            float(_np(ref(y, pred, sample_weight=sw))),
            rtol=3e-6,
        )


def test_reduction_none_is_elementwise():
    # Keras's reduction=None still averages the last axis (tensorflow#35004); ours does not.
    y, p = _data(1)
    ours = _np(bk.BinaryCrossentropy(reduction=None)(y, p))
    ref = _np(keras.losses.BinaryCrossentropy(reduction=None)(y, p))
    assert ours.shape == y.shape and ref.shape == y.shape[:1]
    np.testing.assert_allclose(ours.mean(axis=-1), ref, rtol=3e-6)
    # per-element values: -(y log p + (1 - y) log(1 - p)) in float64 (the definition)
    y64, p64 = y.astype(float), p.astype(float)
    np.testing.assert_allclose(ours, -(y64 * np.log(p64) + (1 - y64) * np.log1p(-p64)), rtol=2e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_reduced_loss_equals_the_elementwise_path(from_logits):
    # On the torch backend the default and "sum" reductions go to bcelab's fused kernel
    # (one pass, value and gradient; checked by grad_fn); on jax Keras reduces the
    # element-wise loss.  Either way: the element-wise loss (reduction=None) reduced by
    # hand, and on torch the same gradient.
    y, p = _data(6, hard=True)
    pred = np.log(p / (1 - p)).astype("float32") if from_logits else p
    sw = np.linspace(0.0, 2.0, y.shape[0]).astype("float32")
    opts = {"from_logits": from_logits, "label_smoothing": 0.1}
    for reduction, weight in (("sum_over_batch_size", None), ("sum", None), ("sum", sw)):
        loss = bk.BinaryCrossentropy(reduction=reduction, **opts)
        each = _np(bk.BinaryCrossentropy(reduction=None, **opts)(y, pred)).astype(float)
        if weight is not None:
            each = each * weight[:, None]
        # "sum": Keras sums each sample's mean over the last axis
        ref = each.sum() / y.shape[-1] if reduction == "sum" else each.mean()
        np.testing.assert_allclose(float(_np(loss(y, pred, sample_weight=weight))), ref, rtol=2e-6)
        if BACKEND != "torch":
            continue
        import torch

        t1 = torch.tensor(pred, requires_grad=True)
        t2 = torch.tensor(pred, requires_grad=True)
        got = loss(y, t1, sample_weight=weight)
        node = got.grad_fn
        if reduction == "sum":  # the fused sum, divided by the last axis's length
            node = node.next_functions[0][0]
        assert type(node).__name__ == "_FusedBCEBackward"
        ref_t = bk.BinaryCrossentropy(reduction=None, **opts)(y, t2)
        if weight is not None:
            ref_t = ref_t * torch.tensor(weight)[:, None]
        (ref_t.sum() / y.shape[-1] if reduction == "sum" else ref_t.mean()).backward()
        got.backward()
        np.testing.assert_allclose(t1.grad.numpy(), t2.grad.numpy(), rtol=2e-6, atol=1e-12)
    if BACKEND == "torch":  # a reduction the kernel does not compute: Keras's own
        import torch

        other = bk.BinaryCrossentropy(reduction="mean_with_sample_weight", **opts)
        out = other(y, torch.tensor(pred, requires_grad=True))
        assert type(out.grad_fn).__name__ != "_FusedBCEBackward"


def test_kl_divergence_is_bce_minus_floor_and_zero_at_a_perfect_fit():
    y, p = _data(2)
    kl = _np(bk.BinaryKLDivergence(reduction=None)(y, p))
    ce = _np(bk.BinaryCrossentropy(reduction=None)(y, p)).astype(float)
    y64 = y.astype(float)
    h = -(y64 * np.log(y64) + (1 - y64) * np.log1p(-y64))
    np.testing.assert_allclose(kl, ce - h, rtol=1e-4, atol=2e-6)
    assert float(_np(bk.BinaryKLDivergence()(y, y))) == 0.0


def test_exact_at_probability_zero_and_one():
    # No hidden epsilon: p = 0 with y = 0 costs exactly 0 (Keras: -log(1 - 1e-7) > 0).
    y = np.array([[0.0, 1.0]], dtype="float32")
    p = np.array([[0.0, 1.0]], dtype="float32")
    assert float(_np(bk.BinaryCrossentropy()(y, p))) == 0.0
    assert float(_np(keras.losses.BinaryCrossentropy()(y, p))) > 0.0


def test_errors_name_keras():
    y, p = _data(3)
    with pytest.raises(DomainError, match=r"bcelab\.keras\.BinaryCrossentropy \(Keras\)"):
        bk.BinaryCrossentropy()(y * 255, p)
    with pytest.raises(DomainError, match=r"Keras.*probabilities"):
        bk.BinaryCrossentropy()(y, p * 3 - 1)
    with pytest.raises(ShapeError, match="Keras"):
        bk.BinaryCrossentropy()(y[:, :2], p)
    with pytest.raises(DomainError, match="Keras"):
        bk.LogLoss().update_state(y + 1, p)
    # options are checked at construction, in Keras's names
    with pytest.raises(OptionError, match=r"BinaryCrossentropy \(Keras\): label_smoothing"):
        bk.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(OptionError, match=r"BinaryCrossentropy \(Keras\): clip"):
        bk.BinaryCrossentropy(clip=0.7)
    with pytest.raises(OptionError, match=r"CalibrationError \(Keras\): n_bins"):
        bk.CalibrationError(n_bins=0)
    with pytest.raises(OptionError, match=r"BinaryAccuracy \(Keras\): threshold"):
        bk.BinaryAccuracy(threshold=2.0)


def test_config_round_trip():
    loss = bk.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, pos_weight=2.0)
    again = bk.BinaryCrossentropy.from_config(loss.get_config())
    y, p = _data(4)
    x = np.log(p / (1 - p))
    assert float(_np(again(y, x))) == float(_np(loss(y, x)))
    acc = bk.BinaryAccuracy(threshold=0.3)
    assert bk.BinaryAccuracy.from_config(acc.get_config()).threshold == 0.3


def test_keras_arguments_in_keras_order_and_its_saved_config():
    # Keras's BinaryCrossentropy(from_logits, label_smoothing, axis, reduction, name, dtype)
    y, p = _data(6)
    x = np.log(p / (1 - p))
    ours = bk.BinaryCrossentropy(True, 0.1, -1)
    theirs = keras.losses.BinaryCrossentropy(True, 0.1, -1)
    np.testing.assert_allclose(float(_np(ours(y, x))), float(_np(theirs(y, x))), rtol=1e-6)
    assert float(_np(bk.BinaryCrossentropy(axis=1)(y, p))) == float(
        _np(bk.BinaryCrossentropy()(y, p))
    )
    # a config that Keras's own loss saved (it holds axis) builds bcelab's
    config = keras.losses.BinaryCrossentropy(label_smoothing=0.2).get_config()
    again = bk.BinaryCrossentropy.from_config(config)
    assert again.get_config()["axis"] == -1 and again.label_smoothing == 0.2
    with pytest.raises(OptionError, match=r"axis=-1, the last axis of y_pred .* received axis=0"):
        bk.BinaryCrossentropy(axis=0)(y, p)
    with pytest.raises(OptionError, match=r"axis must be an integer .* received axis=True"):
        bk.BinaryKLDivergence(axis=True)


# --- metrics --------------------------------------------------------------------------


def test_metrics_equal_binary_stats_over_batches():
    # Reference: bcelab.metrics.BinaryStats over all rows at once (float64); the Keras
    # metrics keep float32 sums.
    rng = np.random.default_rng(5)
    batches, ys, ps, ws = [], [], [], []
    for n in (32, 32, 32, 17):  # few distinct shapes: eager JAX compiles per op and shape
        y = (rng.random((n, 2)) < 0.3).astype("float32")
        p = rng.random((n, 2)).astype("float32")
        w = rng.random(n).astype("float32")
        batches.append((y, p, w))
        ys.append(y)
        ps.append(p)
        ws.append(np.repeat(w[:, None], 2, axis=1))
    ref = (
        BinaryStats(kernel="numpy")
        .update(np.concatenate(ps), np.concatenate(ys), weights=np.concatenate(ws))
        .compute()
    )
    metrics = {
        "accuracy": bk.BinaryAccuracy(),
        "log_loss": bk.LogLoss(),
        "ne": bk.NormalizedEntropy(),
        "excess": bk.ExcessLoss(),
        "ece_uniform": bk.CalibrationError(n_bins=15),
    }
    for m in metrics.values():
        for y, p, w in batches:
            m.update_state(y, p, sample_weight=w)
    for key, m in metrics.items():
        assert float(_np(m.result())) == pytest.approx(getattr(ref, key), rel=2e-5), key
    for m in metrics.values():
        m.reset_state()
        m.update_state(*batches[0][:2])
    assert float(_np(metrics["log_loss"].result())) == pytest.approx(
        BinaryStats(kernel="numpy").update(batches[0][1], batches[0][0]).compute().log_loss,
        rel=2e-5,
    )


def test_accuracy_tie_rule_and_logits():
    # p == 0.5 is class 1 (documented; Keras's own BinaryAccuracy uses p > 0.5).
    y = np.array([[1.0], [0.0]], dtype="float32")
    p = np.array([[0.5], [0.5]], dtype="float32")
    ours = bk.BinaryAccuracy()
    ours.update_state(y, p)
    theirs = keras.metrics.BinaryAccuracy()
    theirs.update_state(y, p)
    assert float(_np(ours.result())) == 0.5 and float(_np(theirs.result())) == 0.5
    one = bk.BinaryAccuracy()
    one.update_state(np.array([[1.0]], "float32"), np.array([[0.5]], "float32"))
    kone = keras.metrics.BinaryAccuracy()
    kone.update_state(np.array([[1.0]], "float32"), np.array([[0.5]], "float32"))
    assert float(_np(one.result())) == 1.0 and float(_np(kone.result())) == 0.0
    lg = bk.BinaryAccuracy(from_logits=True)
    lg.update_state(np.array([1.0, 0.0, 1.0], "float32"), np.array([0.0, -3.0, -0.1], "float32"))
    assert float(_np(lg.result())) == pytest.approx(2 / 3)


def test_multi_output_sigmoid_model_counts_every_output():
    # Seed 000's side note / pitfalls.md item 10: metrics=["accuracy"] resolves to
    # categorical accuracy when y_pred.shape[-1] > 1 (keras compile_utils.get_metric), so a
    # multi-label sigmoid model is scored on the argmax only.
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, 4)).astype("float32")
    y = (x[:, :3] + 0.3 * rng.normal(size=(200, 3)) > 0).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=bk.BinaryCrossentropy(),
        metrics=["accuracy", bk.BinaryAccuracy(name="bcelab_accuracy")],
    )
    model.fit(x, y, epochs=3, batch_size=50, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = _np(model.predict(x, verbose=0))
    every_output = float(np.mean((pred >= 0.5) == (y == 1)))
    argmax_only = float(np.mean(np.argmax(pred, -1) == np.argmax(y, -1)))
    assert logs["bcelab_accuracy"] == pytest.approx(every_output, abs=1e-6)
    assert logs["accuracy"] == pytest.approx(argmax_only, abs=1e-6)
    assert abs(every_output - argmax_only) > 0.05


def test_fit_with_every_metric_and_the_kl_loss():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(128, 3)).astype("float32")
    y = rng.random((128, 2)).astype("float32")  # soft targets: the KL loss goes towards 0
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=bk.BinaryKLDivergence(from_logits=True),
        metrics=[
            bk.LogLoss(from_logits=True),
            bk.ExcessLoss(from_logits=True),
            bk.NormalizedEntropy(from_logits=True),
            bk.CalibrationError(from_logits=True),
            bk.BinaryAccuracy(from_logits=True),
        ],
    )
    hist = model.fit(x, y, epochs=4, batch_size=32, verbose=0).history
    assert hist["loss"][-1] < hist["loss"][0]
    # the KL loss is the excess metric, and the log loss is excess + floor
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    y64 = y.astype(float)
    floor = float(np.mean(-(y64 * np.log(y64) + (1 - y64) * np.log1p(-y64))))
    assert logs["loss"] == pytest.approx(logs["excess_loss"], rel=1e-4)
    assert logs["log_loss"] == pytest.approx(logs["excess_loss"] + floor, rel=1e-4)


def test_value_checks_in_fit():
    # run_eagerly=True: the targets are concrete on both backends and are checked.
    # Compiled steps: the torch backend runs them eagerly (checked); the jax backend traces
    # them with jax.jit, where values do not exist (documented: no value check).
    x = np.zeros((8, 2), "float32")
    y = np.full((8, 1), 2.0, "float32")

    def model():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])

    eager = model()
    eager.compile(optimizer="sgd", loss=bk.BinaryCrossentropy(), run_eagerly=True)
    with pytest.raises(DomainError, match=r"Keras.*y_true must lie in \[0, 1\]"):
        eager.fit(x, y, epochs=1, verbose=0)
    compiled = model()
    compiled.compile(optimizer="sgd", loss=bk.BinaryCrossentropy())
    if BACKEND == "torch":
        with pytest.raises(DomainError, match="Keras"):
            compiled.fit(x, y, epochs=1, verbose=0)
    else:
        compiled.fit(x, y, epochs=1, verbose=0)  # traced: no value check, as documented


def test_elements_of_weight_zero_or_masked_out_leave_no_nan():
    # Keras multiplies each loss by its weight and mask: an infinite loss there (p = 1,
    # y = 0, kept exact by bcelab) must give 0, as in Keras's own (whose 1e-7 clip keeps
    # it finite), not inf * 0 = NaN.
    y = np.array([[1.0], [0.0], [1.0], [0.0]], dtype="float32")
    p = np.array([[0.3], [1.0], [0.7], [1.0]], dtype="float32")
    keep = np.array([True, False, True, False])
    for reduction in ["sum", "sum_over_batch_size", "mean_with_sample_weight", None]:
        ours = bk.BinaryCrossentropy(reduction=reduction)(y, p, sample_weight=keep * 1.0)
        ref = keras.losses.BinaryCrossentropy(reduction=reduction)(y, p, sample_weight=keep * 1.0)
        np.testing.assert_allclose(_np(ours).ravel(), _np(ref).ravel(), rtol=3e-6)
    kl = bk.BinaryKLDivergence()(y, p, sample_weight=keep * 1.0)
    assert np.isfinite(_np(kl)) and float(_np(kl)) > 0
    masked = [keras.ops.convert_to_tensor(p), keras.ops.convert_to_tensor(p)]
    for t in masked:
        t._keras_mask = keras.ops.convert_to_tensor(keep)
    ours = bk.BinaryCrossentropy()(y, masked[0])
    ref = keras.losses.BinaryCrossentropy()(y, masked[1])
    np.testing.assert_allclose(float(_np(ours)), float(_np(ref)), rtol=3e-6)


def test_training_with_weight_zero_on_saturated_outputs_stays_finite():
    # padded rows whose sigmoid output is exactly 1.0 in float32, label 0, weight 0
    keras.utils.set_random_seed(3)
    x = np.array([[0.1], [100.0], [-0.2], [100.0]], dtype="float32")
    y = np.array([[1.0], [0.0], [0.0], [0.0]], dtype="float32")
    sw = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones")]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=bk.BinaryCrossentropy())
    hist = model.fit(x, y, sample_weight=sw, epochs=2, batch_size=4, verbose=0).history
    assert np.isfinite(hist["loss"]).all()
    assert all(np.isfinite(_np(v)).all() for v in model.weights)


def test_probabilities_outside_0_1_advise_from_logits():
    y = np.array([[1.0], [0.0]], dtype="float32")
    x = np.array([[2.0], [0.5]], dtype="float32")
    for call in (lambda: bk.BinaryCrossentropy()(y, x), lambda: bk.LogLoss().update_state(y, x)):
        with pytest.raises(DomainError, match="Keras") as err:
            call()
        assert "pass from_logits=True" in err.value.fix and "*_with_logits" not in err.value.fix


def test_a_sample_weight_of_the_predictions_shape_weights_each_output():
    # bcelab weights each output's loss by its own weight; Keras's own loss reduces the
    # outputs before it applies weights of this shape (0.2628 here, against 0.3244)
    yt = np.array([[0, 1], [1, 0]], dtype="float32")
    yp = np.array([[0.2, 0.7], [0.9, 0.4]], dtype="float32")
    sw = np.array([[1.0, 0.0], [0.5, 2.0]], dtype="float32")
    each = -(yt * np.log(yp.astype(float)) + (1 - yt) * np.log1p(-yp.astype(float)))
    got = float(_np(bk.BinaryCrossentropy()(yt, yp, sample_weight=sw)))
    np.testing.assert_allclose(got, (each * sw).sum() / each.size, rtol=2e-6)  # 0.3244
    keras_own = float(_np(keras.losses.BinaryCrossentropy()(yt, yp, sample_weight=sw)))
    assert abs(keras_own - got) > 0.05  # the documented difference


@pytest.mark.parametrize("name", ["LogLoss", "ExcessLoss", "BinaryAccuracy", "NormalizedEntropy"])
def test_a_metric_without_rows_is_nan(name):
    # NormalizedEntropy raised NaNError from the entropy of its NaN base rate (no rows,
    # after reset_state, or every sample_weight 0), where the other metrics give NaN
    m = getattr(bk, name)()
    assert np.isnan(float(m.result()))
    y, p = np.array([[0.0], [1.0]]), np.array([[0.3], [0.6]])
    m.update_state(y, p, sample_weight=np.zeros(2))
    assert np.isnan(float(m.result()))
    m.update_state(y, p)
    assert np.isfinite(float(m.result()))
    m.reset_state()
    assert np.isnan(float(m.result()))
