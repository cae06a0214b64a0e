"""Every row of ../shared/reference/vectors.md, each under its convention.

Rows are cited by id (R1..R20) and the source given there.  "exact" values are float64
math with no clipping; framework values are float32 and compared to the printed digits.
Keras 3 itself prints different last digits on different backends (R5: 0.20046918 on
torch, 0.2004692 on jax; R8: 3.5000458 on torch, 3.5000453 on jax; measured with keras
3.15.1 in this repo's venv), so framework rows are compared within 3 float32 ulps.
"""

from __future__ import annotations

import numpy as np
import pytest

import bcelab

F32 = np.float32


def f32(a: object) -> np.ndarray:
    return np.asarray(a, dtype=F32)


def close_f32(got: object, want: float, ulps: int = 3) -> None:
    g = F32(got)
    tol = ulps * np.spacing(F32(abs(want)))
    assert abs(g - F32(want)) <= tol, (g, want)


Y_SEED = [0.5, 0.3, 0.5, 0.9]
P_SEED = [0.1, 0.3, 0.5, 0.8]


def test_r1_seed000_first_example() -> None:
    # R1: exact 0.71743932; Keras 3 float32 0.71743935; tf.keras 0.71743906 (seed 000 question)
    assert round(float(bcelab.bce(P_SEED, Y_SEED, reduction="mean")), 8) == 0.71743932
    k = bcelab.bce(f32(P_SEED), f32(Y_SEED), convention="keras", reduction="mean")
    assert str(F32(k)) == "0.71743935"
    tk = bcelab.bce(f32(P_SEED), f32(Y_SEED), convention="tf_keras", reduction="mean")
    assert str(F32(tk)) == "0.71743906"  # the exact digits the seed's user saw


def test_r2_seed000_perfect_prediction_scores_the_entropy() -> None:
    # R2: exact 0.58056041 = mean H(y); per element H; tf.keras prints 0.5805602
    assert round(float(bcelab.bce(Y_SEED, Y_SEED, reduction="mean")), 8) == 0.58056041
    np.testing.assert_allclose(
        bcelab.binary_entropy(Y_SEED), [0.69314718, 0.6108643, 0.69314718, 0.32508297], atol=5e-9
    )
    tk = bcelab.bce(f32(Y_SEED), f32(Y_SEED), convention="tf_keras", reduction="mean")
    assert str(F32(tk)) == "0.5805602"


def test_r3_decomposition() -> None:
    # R3: mean KL = 0.13687891; floor 0.58056041 + excess 0.13687891 = 0.71743932
    d = bcelab.decompose(P_SEED, Y_SEED)
    assert round(d.excess, 8) == 0.13687891
    assert round(d.floor, 8) == 0.58056041
    assert round(d.bce, 8) == 0.71743932
    assert d.bce == pytest.approx(d.floor + d.excess, rel=1e-15)


def test_r4_argmin_is_the_target() -> None:
    # R4: argmin_p BCE(y, p) = y, minimum H(y) (seed 000 answer)
    grid = np.linspace(1e-4, 1 - 1e-4, 9999)
    for y, h in [(0.1, 0.32508297), (0.3, 0.6108643), (0.5, 0.69314718), (0.9, 0.32508297)]:
        vals = bcelab.bce(grid, np.full_like(grid, y))
        assert grid[int(np.argmin(vals))] == pytest.approx(y, abs=1e-4)
        assert float(bcelab.bce([y], [y])[0]) == pytest.approx(h, abs=5e-9)


def test_r5_keras_unweighted_eye3() -> None:
    # R5: keras/src/losses/losses_test.py BinaryCrossentropy test_unweighted; exact 0.20046918
    y = np.eye(3)
    p = [[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]]
    assert round(float(bcelab.bce(p, y, reduction="mean")), 8) == 0.20046918
    # Keras 3.15 torch backend prints 0.20046918, jax backend 0.2004692 (the 0.20046903 in
    # the old keras test predates Keras 3); bcelab's keras convention lies within 3 ulp.
    close_f32(bcelab.bce(f32(p), f32(y), convention="keras", reduction="mean"), 0.20046918)


def test_r6_keras_asymmetric_clip() -> None:
    # R6: 3.98559 because float32(1 - 1e-7) = 0.99999988 (keras losses_test.py)
    y = f32([[1, 0], [1, 0]])
    p = f32([[1, 1], [1, 0]])
    v = bcelab.bce(p, y, convention="keras")
    assert F32(v[0, 1]) == pytest.approx(15.942385, abs=2e-6)  # -log(1 - 0.99999988)
    mean = bcelab.bce(p, y, convention="keras", reduction="mean")
    close_f32(mean, 3.9855962)  # Keras 3.15 prints 3.9855962 on torch and jax backends
    assert float(mean) == pytest.approx(3.98559, abs=1e-5)  # as written in keras losses_test.py
    # exact: a confident wrong prediction costs infinitely much
    assert np.isinf(bcelab.bce(p, y, reduction="mean"))


def test_r7_keras_from_logits() -> None:
    # R7: keras losses_test.py (from_logits): mean 3.3333788, per row [4.5398894e-05, 6.6667123]
    y = f32([[1, 0, 1], [0, 1, 1]])
    x = f32([[10, -10, 10], [10, 10, -10]])
    close_f32(bcelab.bce_with_logits(x, y, convention="keras", reduction="mean"), 3.3333788)
    rows = bcelab.bce_with_logits(x, y, convention="keras", reduction="per_sample")
    close_f32(rows[0], 4.5398894e-05)
    close_f32(rows[1], 6.6667123)


def test_r8_label_smoothing() -> None:
    # R8: smoothed targets [0.95, 0.05, 0.95]; mean 3.5000454 (keras losses_test.py)
    x = f32([[10, -10, -10]])
    y = f32([[1, 0, 1]])
    v = bcelab.bce_with_logits(x, y, label_smoothing=0.1, convention="keras", reduction="mean")
    close_f32(v, 3.5000454)
    exact = bcelab.bce_with_logits(x, y, label_smoothing=0.1, reduction="mean")
    assert float(exact) == pytest.approx(3.5000454, rel=1e-7)


def test_r9_keras_docstring_reductions() -> None:
    # R9: Keras BinaryCrossentropy docstring: mean 0.865458; per row [0.23515669, 1.4957594];
    # sum (of per-row means) 1.730916; sample weights [0.8, 0.2] -> 0.24363861
    y = f32([[0, 1], [0, 0]])
    x = f32([[-18.6, 0.51], [2.94, -12.8]])
    close_f32(bcelab.bce_with_logits(x, y, convention="keras", reduction="mean"), 0.865458)
    rows = bcelab.bce_with_logits(x, y, convention="keras", reduction="per_sample")
    close_f32(rows[0], 0.23515669)
    close_f32(rows[1], 1.4957594)
    close_f32(bcelab.reduce(rows, reduction="sum"), 1.730916)
    w = f32([0.8, 0.2])  # one weight per sample; "mean" divides by the element count
    close_f32(
        bcelab.bce_with_logits(x, y, convention="keras", reduction="mean", weights=w), 0.24363861
    )


def test_r10_keras_functional_per_row() -> None:
    # R10: keras.losses.binary_crossentropy docstring: [0.91629076, 0.7135582]
    rows = bcelab.bce(
        f32([[0.6, 0.4], [0.4, 0.6]]),
        f32([[0, 1], [0, 0]]),
        convention="keras",
        reduction="per_sample",
    )
    close_f32(rows[0], 0.91629076)
    close_f32(rows[1], 0.7135582)


def test_r11_huge_logits_each_convention() -> None:
    # R11: exact [1000, 1000, 0, 0]; sigmoid then Keras clip [16.118095, 15.942385, 1.19e-7,
    # 1.19e-7]; sigmoid then torch BCELoss [100, 100, 0, 0]
    x = np.array([-1000.0, 1000.0, -1000.0, 1000.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(bcelab.bce_with_logits(x, y), [1000, 1000, 0, 0])
    p = bcelab.sigmoid(f32(x))
    k = bcelab.bce(p, f32(y), convention="keras")
    np.testing.assert_allclose(k, [16.118095, 15.942385, 1.19e-7, 1.19e-7], rtol=1e-2)
    close_f32(k[0], 16.118095)
    close_f32(k[1], 15.942385)
    np.testing.assert_array_equal(bcelab.bce(p, f32(y), convention="torch"), [100, 100, 0, 0])


def test_r12_torch_log_clamp() -> None:
    # R12: aten/src/ATen/native/Loss.cpp: [100, 100, 0, 0.6931472]
    v = bcelab.bce(f32([1, 0, 1, 0.5]), f32([0, 1, 1, 0]), convention="torch")
    np.testing.assert_allclose(v, [100, 100, 0, 0.6931472], rtol=1e-7)
    # exact: inf where the prediction is certain and wrong, and the true gradient
    np.testing.assert_array_equal(bcelab.bce([1.0, 0.0], [0.0, 1.0]), [np.inf, np.inf])


def test_r13_r14_torch_docs_and_pos_weight() -> None:
    # R13: PyTorch BCEWithLogitsLoss docs: 0.20141327 ; R14: pos_weight 3 -> [0.6042398, 1.7014133]
    assert float(bcelab.bce_with_logits([1.5], [1.0])[0]) == pytest.approx(0.20141327, abs=1e-8)
    v = bcelab.bce_with_logits([1.5, 1.5], [1.0, 0.0], pos_weight=3.0)
    np.testing.assert_allclose(v, [0.6042398, 1.7014133], rtol=1e-7)
    vt = bcelab.bce_with_logits(f32([1.5, 1.5]), f32([1, 0]), pos_weight=3.0, convention="torch")
    np.testing.assert_allclose(vt, [0.6042398, 1.7014133], rtol=1e-6)


def test_r15_sklearn_docs_example() -> None:
    # R15: sklearn log_loss docs: 0.21616187 (labels spam=1, ham=0; p(spam) = column 2)
    y = [1, 0, 0, 1]
    p = [0.9, 0.1, 0.2, 0.65]
    v = bcelab.bce(p, y, convention="sklearn", reduction="mean")
    assert float(v) == pytest.approx(0.21616187, abs=1e-8)
    assert float(bcelab.bce(p, y, reduction="mean")) == pytest.approx(0.21616187, abs=1e-8)


@pytest.mark.parametrize(
    ("dtype", "want"), [("float16", 6.93147181), ("float32", 15.94238515), ("float64", 36.04365339)]
)
def test_r16_sklearn_dtype_eps(dtype: str, want: float) -> None:
    # R16: sklearn clips at finfo(dtype).eps
    v = bcelab.bce(np.array([0.0], dtype=dtype), np.array([1.0]), convention="sklearn")
    assert float(v[0]) == pytest.approx(want, abs=1e-8)


def test_r17_optax_extreme_logits() -> None:
    # R17: optax/losses/_classification_test.py
    assert float(bcelab.bce_with_logits([-1e9, -1e-9], [1.0, 0.0], reduction="mean")) == (
        pytest.approx(5e8 + np.log(2) / 2, rel=1e-15)  # optax prints 5e8 in float32
    )
    v = bcelab.bce_with_logits([1e9, 1e-9], [1.0, 0.0], reduction="mean")
    assert float(v) == pytest.approx(0.34657359, abs=1e-8)


def test_r18_float16_clip_not_representable() -> None:
    # R18: in float16, 1 - 1e-7 rounds to 1.0, so a 1e-7 clip would do nothing
    assert np.float16(1 - 1e-7) == 1.0
    with pytest.raises(bcelab.OptionError, match="representable"):
        bcelab.bce(np.array([1.0], np.float16), np.array([0.0]), clip=1e-7)
    # computed in float32 (no clip): the exact answer, inf, as float32
    out = bcelab.bce(np.array([1.0], np.float16), np.array([0.0]))
    assert out.dtype == np.float32 and np.isinf(out[0])
    # a clip the dtype can represent works
    out = bcelab.bce(np.array([1.0], np.float16), np.array([0.0]), clip=1e-3)
    # the clip's ends are formed in the input dtype: 1 - 1e-3 is 0.99902344 in float16
    hi = float(np.float16(1 - 1e-3))
    assert float(out[0]) == pytest.approx(-np.log1p(-hi), rel=1e-6)


def test_r19_sigmoid_saturates_logits_do_not() -> None:
    # R19: sigmoid(x) rounds to 1.0 above ~17.33 in float32: probability space loses the loss
    x = f32([20.0])
    assert bcelab.sigmoid(x)[0] == 1.0
    assert float(bcelab.bce_with_logits(x, f32([0.0]))[0]) == pytest.approx(20.0, rel=1e-6)
    assert np.isinf(bcelab.bce(bcelab.sigmoid(x), f32([0.0]))[0])


def test_r20_normalized_entropy_of_base_rate_is_one() -> None:
    # R20: He et al. 2014: constant prediction at the base rate gives NE = 1.0
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    p = np.full(10, 0.2)
    logloss = float(bcelab.bce(p, y, reduction="mean"))
    h_base = float(bcelab.binary_entropy([y.mean()])[0])
    assert logloss / h_base == pytest.approx(1.0, rel=1e-15)
