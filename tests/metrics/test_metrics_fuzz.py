"""Fuzzing of ``BinaryStats.update`` and ``compute`` with hypothesis.

Any input gives a result or a ``bcelab.BCELabError``, never another exception, and an
update that raises leaves the state as it was.  Where the update succeeds, the compiled
loops and the NumPy reference path hold the same counts, extremes and histogram counts
(from logits: the extremes within the compiled sigmoid's 4 ulps, the same total), and
sums within rounding; the counts are those of the rows (NaN predictions, targets
that are NaN or outside [0, 1]); ``compute`` gives metrics or says why it cannot, and
its log loss is the mean of :func:`bcelab.bce` over the usable rows.  Inputs include
float16, NumPy's bfloat16 (ml_dtypes), float32 and float64, lists, 0-d, empty and
mismatched arrays, NaN, +-inf, -0.0, subnormals, negative and infinite weights, and
every option (``logits``, ``clip``, ``strict``).

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per property;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/metrics/test_metrics_fuzz.py`` runs the larger
check.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.fuzzing import float_dtypes, fuzz

import bcelab
from bcelab.errors import BCELabError
from bcelab.metrics import BinaryStats

ml_dtypes = pytest.importorskip("ml_dtypes")

# hypothesis itself warns when it casts a huge float into float16; that is not bcelab
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

DTYPES = float_dtypes()
SPECIAL = [0.0, -0.0, 1.0, 0.5, np.nan, np.inf, -np.inf, 5e-324, 1e-45, 1 - 1e-16, 2.0, -1.0]
any_float = st.sampled_from(SPECIAL) | st.floats(allow_nan=True, allow_infinity=True)
unit = st.sampled_from([0.0, 1.0, 0.5, 5e-324, 1e-45, 1 - 1e-16]) | st.floats(0, 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6)


def _array(data: st.DataObject, shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> Any:
    dtype = data.draw(st.sampled_from(DTYPES))
    with np.errstate(over="ignore"):
        a = data.draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)
    return a.tolist() if data.draw(st.integers(0, 9)) == 0 else a  # lists too


def _options(data: st.DataObject) -> dict[str, Any]:
    kw: dict[str, Any] = {"logits": data.draw(st.booleans())}
    if data.draw(st.booleans()):
        kw["clip"] = data.draw(st.sampled_from([1e-7, 0.0, 0.49, 0.5, -1.0, np.nan]))
    if data.draw(st.booleans()):
        kw["strict"] = True
    return kw


def _update(kernel: str, p: Any, y: Any, w: Any, kw: dict[str, Any]) -> BinaryStats | BCELabError:
    s = BinaryStats(kernel=kernel)
    before = s.to_bytes()
    try:
        return s.update(p, y, weights=w, **kw)
    except BCELabError as e:
        assert s.to_bytes() == before  # the state is unchanged when an error is raised
        return e


@fuzz
@given(data=st.data())
def test_any_input_gives_a_state_or_a_bcelab_error_on_both_paths(data: st.DataObject) -> None:
    shape = data.draw(shapes)
    y_shape = shape if data.draw(st.integers(0, 9)) else data.draw(shapes)
    p, y = _array(data, shape, any_float), _array(data, y_shape, any_float)
    w = _array(data, shape, any_float) if data.draw(st.booleans()) else None
    kw = _options(data)
    got = _update("compiled", p, y, w, kw)
    ref = _update("numpy", p, y, w, kw)
    assert type(got) is type(ref), (got, ref)
    if isinstance(got, BCELabError):
        return
    assert isinstance(ref, BinaryStats)
    da, db = got.to_arrays(), ref.to_arrays()
    np.testing.assert_array_equal(da["counts"], db["counts"])
    if kw["logits"]:
        # the compiled sigmoid is within 4 ulps of NumPy's (tests/metrics/test_metrics_kernel.py):
        # the extremes may differ by that much, and a row on a bin edge may change bins
        np.testing.assert_allclose(da["pmin"], db["pmin"], rtol=1e-15, atol=1e-300)
        np.testing.assert_allclose(da["pmax"], db["pmax"], rtol=1e-15, atol=1e-300)
        assert da["hist_n"].sum() == db["hist_n"].sum()
    else:
        for key in ("hist_n", "pmin", "pmax"):
            np.testing.assert_array_equal(da[key], db[key], err_msg=key)
    # the compiled exp takes e^t below 2^-1022 as 0 (logits beyond 708 on the right side):
    # each such row's loss is off by less than 1e-307 (the bound in the metrics guide),
    # times its weight
    wmax = 1.0 if w is None else float(np.max(np.abs(w), where=np.isfinite(w), initial=1.0))
    tiny = 1e-307 * max(1, np.broadcast(p, y).size) * wmax
    np.testing.assert_allclose(
        da["sums"] + da["sums_lo"], db["sums"] + db["sums_lo"], rtol=1e-12, atol=tiny
    )
    try:
        m = got.compute()
    except BCELabError:
        return
    assert m.rows == got.rows and m.rows_used <= m.rows


@fuzz
@given(data=st.data())
def test_counts_and_log_loss_are_those_of_the_rows(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 40))
    y = np.asarray(_array(data, (n,), unit | st.sampled_from([np.nan, -0.5, 1.5])), np.float64)
    p = np.asarray(_array(data, (n,), unit | st.just(np.nan)), np.float64)
    s = BinaryStats().update(p, y)
    bad_y = np.isnan(y) | (y < 0) | (y > 1)
    used = ~bad_y & ~np.isnan(p)
    assert (s.rows, s.rows_used) == (n, int(used.sum()))
    assert s.count("nan_pred") == int(np.isnan(p).sum())
    assert s.count("invalid_target") == int(bad_y.sum())
    if not used.any():
        with pytest.raises(BCELabError):
            s.compute()
        return
    want = float(np.mean(np.asarray(bcelab.bce(p[used], y[used], reduction="none"), np.float64)))
    got = s.compute().log_loss
    if math.isinf(want):
        assert math.isinf(got)
    else:
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300)
