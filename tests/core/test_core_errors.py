"""Every bad input of issue 2 gets a clear error from one exception family.

Each message names what was expected, what was received, and how to fix it.
"""

from __future__ import annotations

import numpy as np
import pytest

import bcelab
from bcelab.errors import BCELabError, DomainError, OptionError
from bcelab.kernels import fused_bce


def _msg_parts(e: BCELabError) -> None:
    assert e.expected and e.received and e.fix
    assert str(e) == f"{e.expected}; {e.received}. {e.fix}"


def test_shape_mismatch_is_never_broadcast() -> None:
    with pytest.raises(bcelab.ShapeError) as ei:
        bcelab.bce(np.full((4, 1), 0.5), np.ones(4))
    _msg_parts(ei.value)
    assert "(4, 1) and (4,)" in str(ei.value)


def test_targets_outside_unit_interval_message_matches_issue_example() -> None:
    y = np.zeros((2, 6))
    y[0, 4] = 255.0
    y[1, 0] = 3.0
    y[1, 1] = -1.0
    with pytest.raises(bcelab.DomainError) as ei:
        bcelab.bce_with_logits(np.zeros((2, 6)), y)
    msg = str(ei.value)
    assert "targets must lie in [0, 1]" in msg
    assert "3 values are outside (first: 255.0 at index (0, 4))" in msg
    assert "divide 0..255 masks by 255" in msg
    _msg_parts(ei.value)


def test_probabilities_outside_unit_interval_suggest_logits() -> None:
    with pytest.raises(bcelab.DomainError, match="with_logits"):
        bcelab.bce(np.array([0.2, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(bcelab.DomainError):
        bcelab.binary_kl(np.array([-0.1]), np.array([0.5]))


@pytest.mark.parametrize("fn", [bcelab.bce, bcelab.bce_with_logits, bcelab.focal_with_logits])
def test_nan_policies(fn: object) -> None:
    x = np.array([0.2, np.nan, 0.7, 0.4])
    y = np.array([0.0, 1.0, 1.0, 0.5])
    with pytest.raises(bcelab.NaNError) as ei:
        fn(x, y)  # type: ignore[operator]
    assert "1 NaN value (first at index (1,))" in str(ei.value)
    prop = fn(x, y, nan_policy="propagate")  # type: ignore[operator]
    assert np.isnan(prop[1]) and not np.isnan(prop[[0, 2, 3]]).any()
    assert np.isnan(fn(x, y, nan_policy="propagate", reduction="mean"))  # type: ignore[operator]
    omitted = fn(x, y, nan_policy="omit", reduction="mean")  # type: ignore[operator]
    clean = fn(x[[0, 2, 3]], y[[0, 2, 3]], reduction="mean")  # type: ignore[operator]
    assert float(omitted) == pytest.approx(float(clean), rel=1e-15)
    # NaN in targets is handled the same way
    with pytest.raises(bcelab.NaNError, match="targets"):
        fn(np.array([0.2, 0.3]), np.array([0.0, np.nan]))  # type: ignore[operator]


_GRADS = [bcelab.bce_grad, bcelab.bce_with_logits_grad, bcelab.focal_with_logits_grad]


@pytest.mark.parametrize("fn", _GRADS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_nan_policies(fn: object, dtype: type) -> None:
    # NaN in a prediction (index 1) and in a target (index 4)
    x = np.array([0.2, np.nan, 0.7, 0.4, 0.6], dtype=dtype)
    y = np.array([0.0, 1.0, 1.0, 0.5, np.nan], dtype=dtype)
    w = np.array([1.0, 2.0, 3.0, 0.5, 4.0], dtype=dtype)
    ok = np.array([0, 2, 3])
    with pytest.raises(bcelab.NaNError, match="nan_policy"):
        fn(x, y, reduction="mean")  # type: ignore[operator]
    for reduction in ("none", "sum", "mean"):
        prop = fn(x, y, nan_policy="propagate", reduction=reduction)  # type: ignore[operator]
        assert np.isnan(prop[[1, 4]]).all() and not np.isnan(prop[ok]).any()
    for reduction, kw in (("sum", {}), ("mean", {}), ("weighted_mean", {"weights": w})):
        got = fn(x, y, nan_policy="omit", reduction=reduction, **kw)  # type: ignore[operator]
        # the omitted elements leave the loss: derivative 0, the others as without them
        kept = {k: v[ok] for k, v in kw.items()}
        clean = fn(x[ok], y[ok], reduction=reduction, **kept)  # type: ignore[operator]
        assert got.dtype == clean.dtype and got[1] == 0.0 and got[4] == 0.0
        np.testing.assert_allclose(got[ok], clean, rtol=1e-6 if dtype == np.float32 else 1e-15)
    none = fn(x, y, nan_policy="omit", reduction="none")  # type: ignore[operator]
    assert np.isnan(none[[1, 4]]).all()  # no reduction to leave: NaN, as the element's loss
    with pytest.raises(bcelab.EmptyReductionError):
        fn(x[[1]], y[[1]], nan_policy="omit", reduction="mean")  # type: ignore[operator]
    with pytest.raises(bcelab.OptionError, match="nan_policy must be one of"):
        fn(x, y, nan_policy="ignore")  # type: ignore[operator]


def test_fused_bce_gradient_follows_nan_policy() -> None:
    # fused_bce sends inputs with NaN to the reference path, gradient included
    x = np.array([0.2, np.nan, -0.7, 1.4], dtype=np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.5], dtype=np.float32)
    omit = fused_bce(x, y, logits=True, grad=True, nan_policy="omit")
    ok = [0, 2, 3]
    clean = fused_bce(x[ok], y[ok], logits=True, grad=True)
    assert omit.value == pytest.approx(clean.value, rel=1e-15)
    assert omit.grad is not None and clean.grad is not None
    np.testing.assert_allclose(omit.grad[ok], clean.grad, rtol=2e-7)
    assert omit.grad[1] == 0.0
    out = np.empty_like(x)
    prop = fused_bce(x, y, logits=True, grad_out=out, nan_policy="propagate")
    assert np.isnan(prop.value) and prop.grad is out
    assert np.isnan(out[1]) and not np.isnan(out[ok]).any()
    with pytest.raises(bcelab.NaNError):
        fused_bce(x, y, logits=True, grad=True)


@pytest.mark.parametrize("preds", [np.array([0, 1]), np.array([True, False])])
def test_integer_or_boolean_predictions(preds: np.ndarray) -> None:
    with pytest.raises(bcelab.DTypeError) as ei:
        bcelab.bce(preds, np.array([0.0, 1.0]))
    assert str(preds.dtype) in str(ei.value) and "swapped" in str(ei.value)
    assert isinstance(ei.value, TypeError)  # DTypeError is also a TypeError
    with pytest.raises(bcelab.DTypeError) as ei:  # one argument: nothing to swap with
        bcelab.sigmoid(preds)
    assert "logits.astype(float32)" in str(ei.value) and "swapped" not in str(ei.value)


def test_integer_and_boolean_targets_are_fine() -> None:
    a = bcelab.bce(np.array([0.3, 0.8]), np.array([0, 1]))
    b = bcelab.bce(np.array([0.3, 0.8]), np.array([False, True]))
    np.testing.assert_array_equal(a, b)
    # binary_entropy too, as its docstring says (it took them for swapped predictions)
    for labels in (np.array([0, 1, 1]), np.array([True, False, True]), [0, 1, 1]):
        h = bcelab.binary_entropy(labels)
        assert h.dtype == np.float64 and np.array_equal(h, np.zeros(3))
    with pytest.raises(bcelab.DomainError, match="targets must lie in"):
        bcelab.binary_entropy(np.array([0, 2]))
    with pytest.raises(bcelab.DTypeError, match="targets must be real numbers"):
        bcelab.binary_entropy(np.array([0.5j]))


def test_mixed_array_libraries() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(bcelab.BackendMismatchError) as ei:
        bcelab.bce(torch.tensor([0.5]), np.array([1.0]))
    assert "numpy.ndarray" in str(ei.value) and "torch.Tensor" in str(ei.value)
    assert (
        ei.value.fix
        == "convert them to one library first, e.g. torch.as_tensor(x) or np.asarray(t.cpu())"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda x, y, w: bcelab.bce_with_logits(x, y, weights=w, reduction="mean"),
        lambda x, y, w: bcelab.bce_with_logits_grad(x, y, weights=w, reduction="mean"),
        lambda x, y, w: bcelab.bce(x.sigmoid(), y, weights=w, reduction="none"),
        lambda x, y, w: bcelab.binary_entropy(y, weights=w, reduction="mean"),
        lambda x, y, w: bcelab.decompose(x.sigmoid(), y, weights=w),
        lambda x, y, w: bcelab.reduce(x, weights=w),
    ],
)
def test_numpy_weights_with_tensors_are_a_mix(call) -> None:
    # NumPy weights reached torch's astype (AttributeError: no attribute 'to')
    torch = pytest.importorskip("torch")
    x, y = torch.tensor([0.5, -1.0]), torch.tensor([1.0, 0.0])
    with pytest.raises(bcelab.BackendMismatchError, match=r"numpy\.ndarray, torch\.Tensor"):
        call(x, y, np.array([1.0, 2.0]))
    call(x, y, torch.tensor([1.0, 2.0]))  # the same call with a tensor runs
    call(x, y, [1.0, 2.0])  # and a list is taken as the values' library


def test_numpy_mask_with_tensors_is_a_mix() -> None:
    # it was "mask must be a boolean array ...; received dtype bool"
    torch = pytest.importorskip("torch")
    x, y = torch.tensor([0.5, -1.0]), torch.tensor([1.0, 0.0])
    with pytest.raises(bcelab.BackendMismatchError, match=r"numpy\.ndarray, torch\.Tensor"):
        bcelab.bce_with_logits(x, y, mask=np.array([True, False]), reduction="mean")
    keep = torch.tensor([True, False])
    assert float(bcelab.bce_with_logits(x, y, mask=keep, reduction="mean")) > 0


def test_mixed_array_libraries_with_jax_name_jax_numpy() -> None:
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(bcelab.BackendMismatchError) as ei:
        bcelab.bce(jnp.array([0.5]), np.array([1.0]))
    assert (
        ei.value.fix
        == "convert them to one library first, e.g. jax.numpy.asarray(x) or np.asarray(x)"
    )


def test_empty_mean_is_an_error_not_nan() -> None:
    with pytest.raises(bcelab.EmptyReductionError):
        bcelab.bce(np.array([]), np.array([]), reduction="mean")
    with pytest.raises(bcelab.EmptyReductionError):
        bcelab.reduce(np.array([1.0, 2.0]), mask=np.array([False, False]))
    with pytest.raises(bcelab.EmptyReductionError):
        bcelab.reduce(np.array([1.0]), weights=np.array([0.0]), reduction="weighted_mean")
    with pytest.raises(bcelab.EmptyReductionError, match="some samples"):
        bcelab.reduce(
            np.ones((2, 3)), mask=np.array([[True] * 3, [False] * 3]), reduction="per_sample"
        )
    # a sum of nothing is 0, and 'none' of nothing is empty
    assert float(bcelab.bce(np.array([]), np.array([]), reduction="sum")) == 0.0
    assert bcelab.bce(np.array([]), np.array([])).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reduction": "avg"}, "reduction must be one of"),
        ({"nan_policy": "ignore"}, "nan_policy must be one of"),
        ({"convention": "tensorflow"}, "convention must be one of"),
        ({"label_smoothing": 1.5}, "label_smoothing must be a number in"),
        ({"clip": 0.7}, "clip must be a number in"),
        ({"pos_weight": -1.0}, "pos_weight must be finite"),
        ({"pos_weight": np.ones(3)}, "one weight per label"),
        ({"weights": np.ones(3)}, "weights must have the shape"),
        ({"weights": -np.ones(4), "reduction": "mean"}, "weights must be finite and >= 0"),
        ({"mask": np.ones(4), "reduction": "mean"}, "mask must be a boolean"),
        ({"convention": "keras", "clip": 1e-3}, "clip is not part of"),
        ({"convention": "sklearn", "pos_weight": 2.0}, "pos_weight is not part of"),
    ],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(BCELabError, match=match) as ei:
        bcelab.bce(np.full(4, 0.5), np.ones(4), **kwargs)
    _msg_parts(ei.value)


def test_other_bad_inputs() -> None:
    with pytest.raises(bcelab.OptionError, match="gamma"):
        bcelab.focal_with_logits(np.zeros(2), np.ones(2), gamma=-1)
    with pytest.raises(bcelab.OptionError, match="alpha"):
        bcelab.focal_with_logits(np.zeros(2), np.ones(2), alpha=2.0)
    with pytest.raises(bcelab.OptionError, match="no logits form"):
        bcelab.bce_with_logits(np.zeros(2), np.ones(2), convention="sklearn")
    with pytest.raises(bcelab.DTypeError, match="numeric"):
        bcelab.bce(["a", "b"], [0, 1])
    with pytest.raises(bcelab.ShapeError, match="rectangular"):
        bcelab.bce([[0.1, 0.2], [0.3]], [[0, 1], [1]])
    with pytest.raises(bcelab.DTypeError, match="must be an array"):
        bcelab.bce({"a": 1}, [0])
    with pytest.raises(bcelab.OptionError, match="axis"):
        bcelab.reduce(np.ones((2, 2)), reduction="per_sample", axis=3)
    # axis= is never silently ignored: out of range, not an int, or with reduction='none'
    with pytest.raises(bcelab.OptionError, match="received axis=2"):
        bcelab.bce(np.full((2, 2), 0.5), np.ones((2, 2)), reduction="mean", axis=2)
    with pytest.raises(bcelab.OptionError, match="an int or a tuple of ints"):
        bcelab.bce(np.full(2, 0.5), np.ones(2), reduction="sum", axis=1.0)
    for fn in (bcelab.bce, bcelab.focal, bcelab.binary_kl):
        with pytest.raises(bcelab.OptionError, match="reduction='none' keeps every element"):
            fn(np.full((2, 2), 0.5), np.ones((2, 2)), axis=1)
    with pytest.raises(bcelab.OptionError, match="reduction='none'"):
        bcelab.reduce(np.ones((2, 2)), reduction="none", axis=0)
    with pytest.raises(bcelab.OptionError, match="reduction must be"):
        bcelab.decompose([0.5], [0.5], reduction="sum")
    for kw in ({"mask": [False]}, {"weights": [0.0], "reduction": "weighted_mean"}):
        with pytest.raises(bcelab.EmptyReductionError) as err:
            bcelab.decompose([0.5], [0.5], **kw)  # type: ignore[arg-type]
        assert "reduction='sum'" not in str(err.value)  # decompose takes no sum


def test_errors_are_value_errors_for_callers_that_do_not_know_bcelab() -> None:
    with pytest.raises(ValueError):
        bcelab.bce([0.5], [2.0])


def test_atomic_write_leaves_no_partial_file_and_normal_permissions(tmp_path: object) -> None:
    import os
    from pathlib import Path

    from bcelab._core.atomic import atomic_open, write_text

    d = Path(str(tmp_path))
    f = write_text(d / "a.txt", "hello")
    assert f.read_text() == "hello"
    assert oct(f.stat().st_mode & 0o777) == oct(0o666 & ~_current_umask())
    with pytest.raises(RuntimeError), atomic_open(d / "b.txt") as fh:
        fh.write("partial")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in d.iterdir()) == ["a.txt"]  # no b.txt, no temp file
    assert os.path.exists(d / "a.txt")


def _current_umask() -> int:
    import os

    m = os.umask(0)
    os.umask(m)
    return m


def test_eager_jax_arrays_are_checked_traced_ones_are_not() -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    with pytest.raises(bcelab.DomainError, match="probabilities must lie in"):
        bcelab.bce(jnp.array([0.5, 1.5]), jnp.array([0.0, 1.0]))
    with pytest.raises(bcelab.DomainError, match="targets must lie in"):
        bcelab.bce_with_logits(jnp.array([0.5, 1.5]), jnp.array([0.0, 255.0]))
    with pytest.raises(bcelab.NaNError):
        bcelab.bce_with_logits(jnp.array([jnp.nan]), jnp.array([0.0]))
    # under jit the values do not exist: documented, no check, no crash
    out = jax.jit(lambda x, y: bcelab.bce_with_logits(x, y))(jnp.array([0.5]), jnp.array([1.0]))
    assert out.shape == (1,)


def test_masked_arrays_are_refused_unless_nothing_is_masked() -> None:
    # NumPy's mean of a masked loss skips the masked values in the sum but divides by
    # every row, and a plain view reads the values under the mask: either would be a
    # silently wrong number, so a mask that hides something is an error
    p = np.array([0.1, 0.9, 0.5])
    y = np.array([0.0, 1.0, 1.0])
    hidden = np.ma.masked_array(p, mask=[False, False, True])
    for call in (
        lambda: bcelab.bce(hidden, y, reduction="mean"),
        lambda: bcelab.bce(p, np.ma.masked_array(y, mask=[True, False, False])),
        lambda: bcelab.bce_with_logits(hidden, y),
        lambda: bcelab.binary_entropy(hidden),
        lambda: bcelab.reduce(hidden),
        lambda: fused_bce(hidden, y, logits=False),
    ):
        with pytest.raises(BCELabError, match="bcelab does not read NumPy masks") as e:
            call()
        assert "1 of 3 values masked" in str(e.value) and "getmaskarray" in str(e.value)
    whole = np.ma.masked_array(p, mask=False)  # nothing masked: the data as they are
    assert bcelab.bce(whole, y, reduction="mean") == bcelab.bce(p, y, reduction="mean")


def test_weights_that_overflow_float64_are_an_error_not_a_zero_mean() -> None:
    # two weights of 1e308 add up to inf: a weighted mean would read finite / inf = 0
    rng = np.random.default_rng(3)
    p = rng.random(100)
    y = (rng.random(100) < p).astype(np.float64)
    w = np.ones(100)
    w[[3, 5]] = 1e308
    z = np.log(p / (1 - p))
    for call in (
        lambda: bcelab.bce(p, y, weights=w, reduction="weighted_mean"),
        lambda: bcelab.bce_with_logits(z, y, weights=w, reduction="weighted_mean"),
        lambda: fused_bce(p, y, logits=False, weights=w, reduction="weighted_mean"),
        lambda: fused_bce(z, y, logits=True, weights=w, reduction="weighted_mean", grad=True),
        lambda: bcelab.bce_grad(p, y, weights=w, reduction="weighted_mean"),
        lambda: bcelab.bce_with_logits_grad(z, y, weights=w, reduction="weighted_mean"),
        lambda: bcelab.reduce(np.array([2.0, 3.0]), weights=np.array([1e308, 1.0])),
    ):
        with pytest.raises(BCELabError, match="float64's range") as e:
            call()
        assert "divide the weights by their largest value" in str(e.value)
    # the fix the message gives: the same mean as the weights' two rows alone
    scaled = bcelab.bce(p, y, weights=w / 1e308, reduction="weighted_mean")
    two = bcelab.bce(p[[3, 5]], y[[3, 5]], reduction="mean")
    assert scaled == pytest.approx(two, rel=1e-12)
    # a sum may be as large as float64 allows; an infinite loss stays inf, not an error
    assert bcelab.bce(p, y, weights=w, reduction="sum") > 1e306
    one = np.array([0.0, 0.5])
    assert (
        bcelab.bce(one, np.ones(2), weights=np.array([1.0, 2.0]), reduction="weighted_mean")
        == np.inf
    )


def test_an_array_pos_weight_out_of_range_names_its_first_bad_value_not_the_array() -> None:
    # the message printed the whole (broadcast) pos_weight array
    p, y = np.full((4, 3), 0.5), np.ones((4, 3))
    with pytest.raises(DomainError) as e:
        bcelab.bce(p, y, pos_weight=np.array([1.0, -1.0, 2.0]))
    assert "received pos_weight with a negative, infinite or NaN value: -1.0" in str(e.value)
    assert "[" not in str(e.value)


def test_gamma_as_an_array_says_to_pass_a_number() -> None:
    # under jax.jit a gamma argument is traced: "received gamma=JitTracer(...)" said
    # nothing of why; an array gamma gets the fix (a number, static under jit)
    with pytest.raises(OptionError, match=r"gamma must be a number \(a Python float, not an"):
        bcelab.focal(np.full(2, 0.5), np.ones(2), gamma=np.array([2.0, 2.0]))
    assert np.isfinite(bcelab.focal(np.full(2, 0.5), np.ones(2), gamma=np.float64(2.0))).all()
    jax = pytest.importorskip("jax")
    f = jax.jit(lambda z, g: bcelab.focal_with_logits(z, jax.numpy.zeros(3), gamma=g))
    with pytest.raises(OptionError, match=r"static_argnames='gamma'"):
        f(jax.numpy.zeros(3), 2.0)


def test_out_of_range_probabilities_name_the_way_this_function_takes_logits() -> None:
    fixes = {}
    for fn in (bcelab.bce, bcelab.focal, bcelab.bce_grad, bcelab.binary_kl, bcelab.decompose):
        with pytest.raises(DomainError) as e:
            fn(np.array([2.0]), np.array([1.0]))
        fixes[fn.__name__] = e.value.fix
    assert "call bce_with_logits instead" in fixes["bce"]
    assert "call focal_with_logits instead" in fixes["focal"]
    assert "call bce_with_logits_grad instead" in fixes["bce_grad"]
    for name in ("bce", "focal", "bce_grad"):
        assert "logits=True" not in fixes[name]  # they take no such argument
    assert "pass logits=True" in fixes["binary_kl"] and "pass logits=True" in fixes["decompose"]
