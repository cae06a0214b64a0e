"""Fuzzing of :func:`bcelab.train.fit` with hypothesis: its options and its data.

Any mix of options (valid values and wrong ones of every kind) and of small data sets
(NaN, infinities, soft or out-of-range targets, one row) gives a ``History`` or a
``bcelab.BCELabError``, never another exception nor a NumPy warning; a run that trains
reports a finite loss per seed, each epoch and with its final weights, or stops as diverged.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/train/test_train_fuzz.py`` runs the larger check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bcelab.errors import BCELabError
from tests.fuzzing import fuzz

pytest.importorskip("torch")
from bcelab.train import History, fit

JUNK = st.sampled_from(
    [None, -1, 0, 2.5, float("nan"), float("inf"), "x", True, [1], {"a": 1}, b"", object()]
)
OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "epochs": st.integers(1, 2) | JUNK,
    "batch_size": st.integers(1, 40) | JUNK,
    "lr": st.floats(1e-4, 1.0) | JUNK,
    "momentum": st.floats(0.0, 0.99) | JUNK,
    "optimizer": st.sampled_from(["sgd", "adam"]) | JUNK,
    "loss": st.sampled_from(["bce", "focal", "kl"]) | JUNK,
    "gamma": st.floats(0.0, 5.0) | JUNK,
    "label_smoothing": st.floats(0.0, 0.5) | JUNK,
    "seeds": st.integers(1, 3) | JUNK,
    "seed": st.integers(0, 2**63 - 1) | JUNK,
    "threads": st.none() | st.integers(1, 2) | JUNK,
    "checkpoint_every": st.none() | st.integers(0, 2) | JUNK,
    "callbacks": st.just(()) | st.just([lambda h: None]) | JUNK,
    "metrics": st.none() | st.just({"mean_logit": lambda z, y: z.mean(dim=(1, 2))}) | JUNK,
    "run_info": st.none() | st.just({"note": "fuzz"}) | JUNK,
    "device": st.none() | st.just("cpu") | JUNK,
}
FEATURES = st.sampled_from([0.0, -1.5, 3.0, np.nan, np.inf, 1e30]) | st.floats(-3, 3)
TARGETS = st.sampled_from([0.0, 1.0, 0.5, np.nan, 2.0, -1.0]) | st.sampled_from([0.0, 1.0])


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy's too, raised inside fit
@fuzz
@given(data=st.data())
def test_any_options_and_data_give_a_history_or_a_bcelab_error(data: st.DataObject) -> None:
    names = data.draw(st.sets(st.sampled_from(sorted(OPTIONS))))
    kwargs = {name: data.draw(OPTIONS[name], label=name) for name in sorted(names)}
    kwargs.setdefault("epochs", 1)
    n = data.draw(st.integers(1, 20))
    x = data.draw(hnp.arrays(np.float32, (n, 2), elements=FEATURES.map(np.float32)))
    y = data.draw(hnp.arrays(np.float32, (n, 1), elements=TARGETS.map(np.float32)))
    try:
        h = fit(None, (x, y, x, y), **kwargs)
    except BCELabError:  # a refused option or data, or a run that diverged (DivergedError)
        return
    assert isinstance(h, History)
    assert h.epochs >= 1 and np.isfinite(h.metrics["train_loss"]).all()
    assert np.isfinite(h.final["train_loss"]).all()  # the final weights' loss too
