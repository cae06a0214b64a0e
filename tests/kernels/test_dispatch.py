"""The dispatch switch: ``set_enabled`` and the ``reference_path()`` block.

Inside the block every call takes the reference formulas (the same bits as a list input,
which the kernel never takes); after it, the dispatch is as it was, also after an error.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

import bcelab
from bcelab.kernels import dispatch, reference_path, set_enabled


def _arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.uniform(0.01, 0.99, 4096), rng.uniform(0.0, 1.0, 4096)


def _taken(p: np.ndarray, y: np.ndarray) -> bool:
    """Whether the kernel would take this call (the dispatch's own test)."""
    return dispatch.eligible_arrays(p, y, None) is not None


def test_inside_the_block_the_reference_formulas_run():
    p, y = _arrays()
    with reference_path():
        assert not _taken(p, y)
        inside = bcelab.bce(p, y)
        inside_mean = bcelab.bce(p, y, reduction="mean")
    as_lists = bcelab.bce(p.tolist(), y.tolist())  # lists never reach the kernel
    np.testing.assert_array_equal(np.asarray(inside), np.asarray(as_lists))
    assert float(inside_mean) == float(bcelab.bce(p.tolist(), y.tolist(), reduction="mean"))
    assert _taken(p, y)  # and after it, the kernel again


def test_the_previous_setting_comes_back_also_after_an_error():
    p, y = _arrays()
    with pytest.raises(ZeroDivisionError), reference_path():
        _ = 1 / 0
    assert _taken(p, y)
    set_enabled(False)
    try:
        with reference_path():
            assert not _taken(p, y)
        assert not _taken(p, y)  # it was off before the block: it stays off
    finally:
        set_enabled(True)
    assert _taken(p, y)


def test_nested_blocks_restore_in_order():
    p, y = _arrays()
    with reference_path():
        with reference_path():
            assert not _taken(p, y)
        assert not _taken(p, y)
    assert _taken(p, y)
