"""Fuzz every public core function over shapes, dtypes and values.

Valid input must give no NaN and no exception; any input at all must give either a
result or a bcelab.BCELabError, never another exception type.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bcelab
from bcelab.errors import BCELabError

# hypothesis itself warns when it casts a huge float into float16; that is not bcelab
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

DTYPES = st.sampled_from([np.float16, np.float32, np.float64])
SPECIAL = [0.0, -0.0, 1.0, 0.5, np.nan, np.inf, -np.inf, 5e-324, 1e-45, 1 - 1e-16, 2.0, -1.0]
any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(SPECIAL)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)

FUNCS = {
    "bce": lambda p, y, **kw: bcelab.bce(p, y, **kw),
    "bce_with_logits": lambda x, y, **kw: bcelab.bce_with_logits(x, y, **kw),
    "focal": lambda p, y, **kw: bcelab.focal(p, y, **kw),
    "focal_with_logits": lambda x, y, **kw: bcelab.focal_with_logits(x, y, **kw),
    "binary_kl_probs": lambda p, y, **kw: bcelab.binary_kl(p, y, **kw),
    "binary_kl_logits": lambda x, y, **kw: bcelab.binary_kl(x, y, logits=True, **kw),
    "binary_entropy": lambda p, y, **kw: bcelab.binary_entropy(y, **kw),
    "decompose": lambda p, y, **kw: bcelab.decompose(
        p, y, **{k: v for k, v in kw.items() if k != "reduction"}
    ),
    "bce_grad": lambda p, y, **kw: bcelab.bce_grad(p, y),
    "bce_with_logits_grad": lambda x, y, **kw: bcelab.bce_with_logits_grad(x, y),
    "focal_with_logits_grad": lambda x, y, **kw: bcelab.focal_with_logits_grad(x, y),
    "sigmoid": lambda x, y, **kw: bcelab.sigmoid(x),
    "reduce": lambda x, y, **kw: bcelab.reduce(x, weights=y, reduction=kw.get("reduction", "sum")),
}
PROB_FUNCS = {"bce", "focal", "binary_kl_probs", "decompose", "bce_grad", "reduce"}
GRAD_FUNCS = {"bce_grad", "bce_with_logits_grad", "focal_with_logits_grad"}


@given(
    name=st.sampled_from(sorted(FUNCS)),
    data=st.data(),
    shape=shapes,
    dtype=DTYPES,
    reduction=st.sampled_from(["none", "mean", "sum", "weighted_mean", "per_sample"]),
    nan_policy=st.sampled_from(["raise", "propagate", "omit"]),
)
def test_any_input_gives_a_result_or_a_bcelab_error(
    name: str, data: st.DataObject, shape: tuple, dtype: type, reduction: str, nan_policy: str
) -> None:
    a = data.draw(hnp.arrays(dtype, shape, elements=any_float.map(lambda v: float(v))))
    b = data.draw(hnp.arrays(np.float64, shape, elements=any_float))
    try:
        FUNCS[name](a, b, reduction=reduction, nan_policy=nan_policy)
    except BCELabError:
        pass


valid_y = st.floats(0, 1) | st.sampled_from([0.0, 1.0, 0.5, 5e-324, 1 - 1e-16])
valid_p = st.floats(0, 1) | st.sampled_from([0.0, 1.0, 5e-324, 1e-45, 1 - 1e-16])
valid_x = st.floats(allow_nan=False) | st.sampled_from([np.inf, -np.inf, 0.0, 5e-324, -1e300])


@given(
    name=st.sampled_from(sorted(FUNCS)),
    data=st.data(),
    shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=5),
    dtype=DTYPES,
)
def test_valid_input_never_gives_nan(
    name: str, data: st.DataObject, shape: tuple, dtype: type
) -> None:
    elems = valid_p if name in PROB_FUNCS else valid_x
    a = data.draw(hnp.arrays(dtype, shape, elements=elems.map(float)))
    y = data.draw(hnp.arrays(np.float64, shape, elements=valid_y))
    # half precision rounds tiny values: the inputs that are valid are those after rounding
    out = FUNCS[name](a, y)
    vals = np.asarray(out.to_dict()["bce"] if name == "decompose" else out, dtype=np.float64)
    assert not np.isnan(vals).any(), (name, a, y, vals)
    if name not in GRAD_FUNCS and name != "sigmoid":
        assert (vals >= 0).all()
    for red in ("mean", "sum"):
        if name in FUNCS and name not in GRAD_FUNCS | {"sigmoid", "decompose"}:
            r = FUNCS[name](a, y, reduction=red)
            assert not np.isnan(float(r))
