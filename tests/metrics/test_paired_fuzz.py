"""Fuzzing of ``PairedBootstrapStats`` (``update``, ``merge``, ``compute``) with hypothesis.

Any input gives a state or a ``bcelab.BCELabError``, never another exception, and an
update that raises leaves the state as it was; the compiled kernel and the NumPy path
give the same state, bit for bit, or the same kind of error.  ``compute`` gives a
comparison or a ``BCELabError``, and never a NaN where both models have a finite value.
Valid rows give each model's log loss and Brier score as :class:`BinaryStats` does, and
the state does not depend on how the rows are split into batches and states.  Inputs
include float16, NumPy's bfloat16 (ml_dtypes), float32 and float64, lists, 0-d, empty
and mismatched arrays, NaN, +-inf, -0.0, subnormals, negative, zero and huge weights,
integer and string ids (repeated too) and every option (``logits``, ``clip``,
``strict``, ``source_key``, ``row_offset``).

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per property;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/metrics/test_paired_fuzz.py`` runs the larger
check.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.fuzzing import float_dtypes, fuzz

from bcelab.errors import BCELabError, DomainError
from bcelab.metrics import BinaryStats, PairedBootstrapStats

ml_dtypes = pytest.importorskip("ml_dtypes")
pytest.importorskip("bcelab.kernels.bootstrap", reason="numba (bcelab[fast]) is missing")

# hypothesis itself warns when it casts a huge float into float16; that is not bcelab
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

DTYPES = float_dtypes()
SPECIAL = [0.0, -0.0, 1.0, 0.5, np.nan, np.inf, -np.inf, 5e-324, 1e-45, 1 - 1e-16, 2.0, -1.0]
any_float = st.sampled_from(SPECIAL) | st.floats(allow_nan=True, allow_infinity=True)
unit = st.sampled_from([0.0, 1.0, 0.5, 1e-300, 1e-45, 1 - 1e-16]) | st.floats(0, 1)
# probabilities away from 0 and 1 even in float16 and bfloat16 (whose 1 - 1e-3 is 1.0)
interior = st.sampled_from([0.5, 0.01, 0.99]) | st.floats(0.01, 0.99)
near = st.sampled_from([2.0**-100, 2.0**-24, 1 - 2.0**-24]) | st.floats(
    2.0**-100, 1 - 2.0**-24, width=32
)
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6)
REPLICATES = 4
CONFIDENCE = 0.6  # the highest that 4 replicates support


def _array(data: st.DataObject, shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> Any:
    dtype = data.draw(st.sampled_from(DTYPES))
    with np.errstate(over="ignore"):
        a = data.draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)
    return a.tolist() if data.draw(st.integers(0, 9)) == 0 else a  # lists too


def _ids(data: st.DataObject, shape: tuple[int, ...]) -> Any:
    kind = data.draw(st.sampled_from(["int", "str", "float", "repeated"]))
    n = int(np.prod(shape))
    if kind == "int":
        return data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-(2**62), 2**62)))
    if kind == "str":
        return np.array([f"row-{i}" for i in range(n)], dtype=object).reshape(shape)
    if kind == "float":
        return data.draw(hnp.arrays(np.float64, shape, elements=any_float))
    return np.zeros(shape, dtype=np.int64)  # every row the same id


def _options(data: st.DataObject, shape: tuple[int, ...]) -> dict[str, Any]:
    kw: dict[str, Any] = {"logits": data.draw(st.booleans())}
    if data.draw(st.booleans()):
        kw["clip"] = data.draw(st.sampled_from([1e-7, 0.0, 0.49, 0.5, -1.0, np.nan]))
    if data.draw(st.booleans()):
        kw["strict"] = True
    key = data.draw(st.sampled_from(["none", "ids", "source", "offset"]))
    if key == "ids":
        kw["ids"] = _ids(data, shape if data.draw(st.integers(0, 9)) else data.draw(shapes))
    elif key == "source":
        kw["source_key"] = data.draw(st.sampled_from(["file.parquet", 7, -1, 2.5]))
    elif key == "offset":
        kw["row_offset"] = data.draw(st.sampled_from([0, 5, -3, 2**62]))
    return kw


def _update(kernel: str, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    s = PairedBootstrapStats(replicates=REPLICATES, seed=11, kernel=kernel, threads=1)
    before = s.to_bytes()
    try:
        return s.update(*args, **kw)
    except BCELabError as e:
        assert s.to_bytes() == before  # the state is unchanged when an error is raised
        return e


def _compute(s: PairedBootstrapStats) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would be a NaN on its way
        try:
            return s.compute(confidence=CONFIDENCE)
        except BCELabError as e:
            return e


@fuzz
@given(data=st.data())
def test_any_input_gives_a_state_or_a_bcelab_error_on_both_kernels(data: st.DataObject) -> None:
    shape = data.draw(shapes)
    other = data.draw(shapes)
    a = _array(data, shape, any_float)
    b = _array(data, shape if data.draw(st.integers(0, 9)) else other, any_float)
    y = _array(data, shape if data.draw(st.integers(0, 9)) else other, any_float)
    kw = _options(data, shape)
    if data.draw(st.booleans()):
        kw["weights"] = _array(data, shape, any_float | st.sampled_from([1e12, 2.0**32]))
    got = _update("compiled", (a, b, y), kw)
    ref = _update("numpy", (a, b, y), kw)
    assert type(got) is type(ref), (got, ref)
    if isinstance(got, BCELabError):
        return
    assert got == ref  # the same state, bit for bit
    assert PairedBootstrapStats.from_bytes(got.to_bytes()) == got  # it passes its own checks
    res = _compute(got)
    if isinstance(res, BCELabError):
        return
    assert res.rows == got.rows and 0 <= res.rows_used <= res.rows
    for name, m in res.metrics.items():
        if math.isfinite(m["a"]) and math.isfinite(m["b"]):
            assert not math.isnan(m["diff"]), (name, m)


@fuzz
@given(data=st.data())
def test_valid_rows_give_each_models_metrics_and_any_split_the_same_state(
    data: st.DataObject,
) -> None:
    n = data.draw(st.integers(1, 40))
    logits = data.draw(st.booleans())
    values = st.floats(-40, 40) if logits else interior
    if not logits and data.draw(st.booleans()):  # float32 / float64: near 0 and 1 too
        a = np.asarray(data.draw(hnp.arrays(np.float32, (n,), elements=near)), np.float64)
        b = np.asarray(data.draw(hnp.arrays(np.float64, (n,), elements=near)), np.float64)
    else:
        a = np.asarray(_array(data, (n,), values), np.float64)
        b = np.asarray(_array(data, (n,), values), np.float64)
    y = np.asarray(_array(data, (n,), unit), np.float64)
    w = np.asarray(_array(data, (n,), st.floats(0.01, 100)), np.float64)
    ids = np.arange(n) * 7 + 3
    whole = PairedBootstrapStats(replicates=REPLICATES, seed=5)
    whole.update(a, b, y, weights=w, ids=ids, logits=logits)
    # any split into two batches, in either order, and into two merged states
    cut = data.draw(st.integers(0, n))
    order = data.draw(st.permutations(range(n)))
    i, j = np.asarray(order[:cut], np.int64), np.asarray(order[cut:], np.int64)
    two = PairedBootstrapStats(replicates=REPLICATES, seed=5)
    two.update(a[j], b[j], y[j], weights=w[j], ids=ids[j], logits=logits)
    two.update(a[i], b[i], y[i], weights=w[i], ids=ids[i], logits=logits)
    left = PairedBootstrapStats(replicates=REPLICATES, seed=5)
    left.update(a[i], b[i], y[i], weights=w[i], ids=ids[i], logits=logits)
    right = PairedBootstrapStats(replicates=REPLICATES, seed=5)
    right.update(a[j], b[j], y[j], weights=w[j], ids=ids[j], logits=logits)
    assert two == whole and left.merge(right) == whole
    assert PairedBootstrapStats.from_bytes(whole.to_bytes()) == whole == whole.copy()
    res = _compute(whole)
    assert not isinstance(res, BCELabError), res
    for k, pred in (("a", a), ("b", b)):
        ref = BinaryStats().update(pred, y, weights=w, logits=logits).compute()
        for name in ("log_loss", "brier"):
            assert res.metrics[name][k] == pytest.approx(getattr(ref, name), rel=1e-12), name
    ll = res.metrics["log_loss"]
    assert ll["diff"] == pytest.approx(ll["b"] - ll["a"], rel=1e-9, abs=1e-12)


def test_a_weighted_bound_that_overflows_float32_is_an_error_not_a_warning() -> None:
    # found by the fuzz above: 2 x 3e38 in float32 overflowed in the loss cap's first bound
    a = np.full(1, 3.0e38, dtype=ml_dtypes.bfloat16)
    zeros = np.zeros(1, np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DomainError, match="weight \\* loss below 2\\*\\*32"):
            PairedBootstrapStats().update(
                a, zeros, zeros, weights=np.full(1, 2.0, np.float16), logits=True
            )
