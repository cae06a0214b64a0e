"""bcelab.keras with Keras masks, sample weights of every per-sample shape, and saved
configs, on one Keras backend (KERAS_BACKEND=jax or torch).

``tests/keras/test_keras.py`` runs this file in a fresh process per backend, as it runs
``test_on_backend.py``; in a run without KERAS_BACKEND it is skipped.  The reference is
Keras's own loss or metric wherever Keras computes the case.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.keras.backend import chosen_backend

BACKEND = chosen_backend()

keras = pytest.importorskip("keras")

import bcelab.keras as bk  # noqa: E402
from bcelab.errors import ShapeError  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402

REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None]


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


def _masked_model(n_outputs: int):
    """A sequence model whose output (8, 5, n) carries Keras's mask (8, 5) (steps 3 and 4
    of every sample and steps 1-4 of the first are padding), its inputs and targets."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(8, 5, 2)).astype("float32")
    x[:, 3:] = 0.0
    x[0, 1:] = 0.0
    y = (np.random.default_rng(1).uniform(size=(8, 5, n_outputs)) > 0.5).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((5, 2)),
            keras.layers.Masking(0.0),
            keras.layers.Dense(n_outputs, activation="sigmoid"),
        ]
    )
    return model, x, y, (x != 0).any(axis=-1)


def _with_mask(values: np.ndarray, mask: np.ndarray):
    t = keras.ops.convert_to_tensor(values)
    t._keras_mask = keras.ops.convert_to_tensor(mask)
    return t


def _close(ours, ref) -> None:
    np.testing.assert_allclose(_np(ours), _np(ref), rtol=3e-6, atol=1e-7)


# --- losses ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_masked_sequence_model_gives_keras_loss(n_outputs):
    # Keras's mask (8, 5) on a (8, 5, 3) output was multiplied into bcelab's element-wise
    # (8, 5, 3) loss: a raw broadcasting error from Keras (torch: "size of tensor a (3) must
    # match the size of tensor b (5)"); Keras's own loss takes the masked mean
    model, x, y, _ = _masked_model(n_outputs)
    model.compile(loss=keras.losses.BinaryCrossentropy(), optimizer="sgd")
    ref = model.evaluate(x, y, verbose=0)
    model.compile(loss=bk.BinaryCrossentropy(), optimizer="sgd")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(ref, rel=3e-6)
    out = model(x)  # carries the mask
    per_step = np.linspace(0.1, 2.0, 40, dtype="float32").reshape(8, 5)
    for reduction in REDUCTIONS:
        for sw in (None, per_step, per_step[..., None]):
            ours = bk.BinaryCrossentropy(reduction=reduction)(y, out, sample_weight=sw)
            ref = keras.losses.BinaryCrossentropy(reduction=reduction)(y, out, sample_weight=sw)
            if reduction is None:  # ours is element-wise (documented); Keras's per step
                ours = keras.ops.mean(ours, axis=-1)
            _close(ours, ref)


def test_a_batch_mask_on_multi_output_predictions_gives_keras_loss():
    # a (batch,) mask on a (batch, n) output failed the same way as a sequence mask
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, (6, 3)).astype("float32")
    y = (rng.uniform(size=(6, 3)) > 0.5).astype("float32")
    keep = np.array([True, False, True, True, False, True])
    sw = rng.uniform(size=6).astype("float32")
    for reduction in REDUCTIONS:
        for weight in (None, sw):
            ours = bk.BinaryCrossentropy(reduction=reduction)(
                y, _with_mask(p, keep), sample_weight=weight
            )
            ref = keras.losses.BinaryCrossentropy(reduction=reduction)(
                y, _with_mask(p, keep), sample_weight=weight
            )
            if reduction is None:
                ours = keras.ops.mean(ours, axis=-1)
            _close(ours, ref)


def test_a_mask_and_per_sample_weights_on_a_sequence():
    # (batch, 1) weights with a (batch, T) mask: Keras's own loss computes this on jax;
    # on torch it fails inside Keras (an in-place product of the two).  The reference is
    # the definition: masked weighted mean of the per-step means.
    model, x, y, keep = _masked_model(3)
    out = model(x)
    sw = np.linspace(0.5, 1.5, 8, dtype="float32")[:, None]
    p = _np(out).astype(float)
    each = -(y * np.log(p) + (1 - y) * np.log1p(-p)).mean(axis=-1)  # (8, 5)
    w = sw * keep
    want = {
        "sum_over_batch_size": (each * w).sum() / keep.sum(),
        "sum": (each * w).sum(),
        "mean_with_sample_weight": (each * w).sum() / w.sum(),
    }
    for reduction, value in want.items():
        got = bk.BinaryCrossentropy(reduction=reduction)(y, out, sample_weight=sw)
        np.testing.assert_allclose(float(_np(got)), value, rtol=2e-5)
        if BACKEND == "jax":
            ref = keras.losses.BinaryCrossentropy(reduction=reduction)(y, out, sample_weight=sw)
            _close(got, ref)


@pytest.mark.parametrize("weight_shape", [(6,), (6, 1)])
@pytest.mark.parametrize("from_logits", [False, True])
def test_every_reduction_with_per_sample_weights_gives_keras_loss(weight_shape, from_logits):
    # (6, 1) weights were not spread over the 3 outputs: reduction="mean_with_sample_weight"
    # divided by the weights' sum, not by 3 times it (1.85069 against Keras's 0.61690)
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, (6, 3)).astype("float32")
    y = (rng.uniform(size=(6, 3)) > 0.5).astype("float32")
    sw = rng.uniform(size=weight_shape).astype("float32")
    pred = np.log(p / (1 - p)) if from_logits else p
    for reduction in REDUCTIONS:
        ours = bk.BinaryCrossentropy(reduction=reduction, from_logits=from_logits)
        ref = keras.losses.BinaryCrossentropy(reduction=reduction, from_logits=from_logits)
        got, want = ours(y, pred, sample_weight=sw), ref(y, pred, sample_weight=sw)
        if reduction is None:  # (6, 3) against Keras's per-sample (6,) or (6, 1)
            got = keras.ops.reshape(keras.ops.mean(got, axis=-1), want.shape)
        _close(got, want)


def test_per_step_weights_on_a_sequence_give_keras_loss():
    # outputs (4, 5, 3): weights (4, 5), (4, 5, 1) and (4, 1) against Keras's own loss
    rng = np.random.default_rng(4)
    p = rng.uniform(0.01, 0.99, (4, 5, 3)).astype("float32")
    y = (rng.uniform(size=(4, 5, 3)) > 0.5).astype("float32")
    for shape in [(4, 5), (4, 5, 1), (4, 1)]:
        sw = rng.uniform(size=shape).astype("float32")
        for reduction in REDUCTIONS[:-1]:
            got = bk.BinaryCrossentropy(reduction=reduction)(y, p, sample_weight=sw)
            want = keras.losses.BinaryCrossentropy(reduction=reduction)(y, p, sample_weight=sw)
            if shape == (4, 1) and reduction == "mean_with_sample_weight":
                # documented: Keras divides by the sum of the 4 weights it received, each
                # of which weighs 5 steps (5 times the weighted mean; with a mask it
                # broadcasts them first and gives the weighted mean)
                _close(keras.ops.multiply(got, 5.0), want)
                continue
            _close(got, want)


def test_a_sample_weight_that_fits_no_sample_says_which_shapes_do():
    y = np.zeros((6, 3), "float32")
    p = np.full((6, 3), 0.3, "float32")
    with pytest.raises(ShapeError, match=r"sample_weight must have y_pred's shape \(6, 3\)"):
        bk.BinaryCrossentropy()(y, p, sample_weight=np.ones((6, 2), "float32"))
    with pytest.raises(ShapeError, match=r"received shape \(3,\)"):
        bk.LogLoss().update_state(y, p, sample_weight=np.ones(3, "float32"))


# --- metrics --------------------------------------------------------------------------


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_metrics_of_a_masked_model_leave_the_padding_out(n_outputs):
    # the metrics read no Keras mask: log_loss 0.8106 with the padded steps, against
    # Keras's masked 0.8888 (the loss) in the report's run
    model, x, y, keep = _masked_model(n_outputs)
    model.compile(
        loss=keras.losses.BinaryCrossentropy(),
        optimizer="sgd",
        metrics=[
            keras.metrics.BinaryCrossentropy(name="keras_ce"),
            keras.metrics.BinaryAccuracy(name="keras_acc"),
            bk.LogLoss(),
            bk.BinaryAccuracy(),
            bk.NormalizedEntropy(),
            bk.ExcessLoss(),
            bk.CalibrationError(),
        ],
    )
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["log_loss"] == pytest.approx(logs["keras_ce"], rel=3e-6)
    assert logs["log_loss"] == pytest.approx(logs["loss"], rel=3e-6)
    assert logs["binary_accuracy"] == pytest.approx(logs["keras_acc"], rel=1e-6)
    p = _np(model.predict(x, verbose=0))
    ref = BinaryStats(kernel="numpy").update(p[keep], y[keep]).compute()
    assert logs["normalized_entropy"] == pytest.approx(ref.ne, rel=2e-5)
    assert logs["excess_loss"] == pytest.approx(ref.excess, rel=2e-5)
    assert logs["calibration_error"] == pytest.approx(ref.ece_uniform, rel=2e-5, abs=1e-7)


def test_metrics_with_a_mask_and_per_step_weights_give_keras_metric():
    model, x, y, _ = _masked_model(3)
    out = model(x)
    sw = np.random.default_rng(3).uniform(size=(8, 5)).astype("float32")
    for ours, ref in [
        (bk.LogLoss(), keras.metrics.BinaryCrossentropy()),
        (bk.BinaryAccuracy(), keras.metrics.BinaryAccuracy()),
    ]:
        ours.update_state(y, out, sample_weight=sw)
        ref.update_state(y, out, sample_weight=sw)
        _close(ours.result(), ref.result())


@pytest.mark.parametrize("weight_shape", [(6,), (6, 1)])
def test_metrics_take_per_sample_weights_as_keras_metrics(weight_shape):
    # (6, 1) weights raised ShapeError ("a leading part of the shape"); Keras's metric
    # takes them: 0.61690 for this log loss
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, (6, 3)).astype("float32")
    y = (rng.uniform(size=(6, 3)) > 0.5).astype("float32")
    sw = rng.uniform(size=(6, 1)).astype("float32").reshape(weight_shape)
    for ours, ref in [
        (bk.LogLoss(), keras.metrics.BinaryCrossentropy()),
        (bk.BinaryAccuracy(), keras.metrics.BinaryAccuracy()),
    ]:
        ours.update_state(y, p, sample_weight=sw)
        ref.update_state(y, p, sample_weight=sw)
        _close(ours.result(), ref.result())
    each = np.repeat(sw.reshape(6, 1), 3, axis=1)
    ref = BinaryStats(kernel="numpy").update(p, y, weights=each).compute()
    for name, key in [("NormalizedEntropy", "ne"), ("ExcessLoss", "excess")]:
        m = getattr(bk, name)()
        m.update_state(y, p, sample_weight=sw)
        assert float(_np(m.result())) == pytest.approx(getattr(ref, key), rel=2e-5), name
    ece = bk.CalibrationError()
    ece.update_state(y, p, sample_weight=sw)
    assert float(_np(ece.result())) == pytest.approx(ref.ece_uniform, rel=2e-5)


# --- configs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pos_weight",
    [
        np.float32(2.0),
        np.array(1.5),
        np.ones((2, 3)),
        np.array([1.0, 2.0, 3.0], "float32"),
        "tensor scalar",
        "tensor vector",
    ],
    ids=["np.float32", "0-d array", "array (2, 3)", "array (3,)", "tensor", "tensor (3,)"],
)
def test_every_accepted_pos_weight_saves_and_loads(pos_weight, tmp_path):
    # get_config raised TypeError for these (float(v) for v in pos_weight), and so did
    # model.save; now a float or nested lists of floats, and an equal loss from the config
    if isinstance(pos_weight, str):  # made here, on the chosen backend
        pos_weight = keras.ops.convert_to_tensor(2.0 if "scalar" in pos_weight else [1.0, 2.0, 3.0])
    rng = np.random.default_rng(5)
    y = (rng.uniform(size=(2, 3)) > 0.5).astype("float32")
    p = rng.uniform(0.05, 0.95, (2, 3)).astype("float32")
    loss = bk.BinaryCrossentropy(pos_weight=pos_weight)
    config = loss.get_config()
    want = np.asarray(_np(keras.ops.convert_to_tensor(pos_weight)), dtype=float)
    assert config["pos_weight"] == (float(want) if want.ndim == 0 else want.tolist())
    again = bk.BinaryCrossentropy.from_config(config)
    assert again.get_config() == config
    # (a 0-d array is a tensor to the core, its float a number: 1 ulp apart at most)
    assert float(_np(again(y, p))) == pytest.approx(float(_np(loss(y, p))), rel=1e-6)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.loss.get_config() == config
    x = rng.normal(size=(2, 4)).astype("float32")
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
