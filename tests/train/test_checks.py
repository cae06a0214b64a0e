"""The training option checks that look at the machine: a model that cannot fit in memory
is refused before anything is allocated, with the sizes that decided it."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from bcelab.errors import OptionError
from bcelab.train import MLPSpec, builtin, fit
from bcelab.train.checks import MAX_LR, check_lr, check_mlp_memory, memory_limit


def test_the_memory_limit_is_the_machines_or_less() -> None:
    import os

    have = memory_limit()
    assert have is not None and have > 0
    assert have <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def test_a_model_larger_than_memory_is_refused_at_once() -> None:
    # 1e10 weights: the initialisation alone once asked NumPy for 74.5 GiB and failed
    # inside it, with a traceback
    with pytest.raises(OptionError) as info:
        fit(MLPSpec(hidden=(100_000, 100_000)), builtin("circles"), epochs=1)
    text = str(info.value)
    assert "fit: a model that fits in memory" in text
    assert "1 seed of 10,000,500,001 weights" in text
    assert "hidden layers of 100,000 and 100,000 units, seeds=1" in text
    assert "use smaller hidden= layers, fewer seeds= or a smaller batch_size=" in text


def test_the_floor_counts_seeds_weights_rows_and_activations() -> None:
    have = memory_limit()
    assert have is not None
    # 24 bytes per weight, 8 per training row and output, and 8 per hidden unit and
    # column of a full batch and of the last, partial one (at least 32 columns: the
    # evaluation's chunks), for every seed
    for batch_size, columns in ((32, 32 + 20), (4, 32), (100, 100), (10_000, 500), (250, 250)):
        per_seed = 24 * 201 + 8 * 500 + 8 * columns * 50
        fits = have // per_seed
        kw = {"batch_size": batch_size, "device": None, "fname": "fit"}
        check_mlp_memory(201, [50], int(fits), 500, 1, **kw)
        with pytest.raises(OptionError, match=f"{fits + 1:,} seeds of 201 weights"):
            check_mlp_memory(201, [50], int(fits) + 1, 500, 1, **kw)


def test_one_wide_hidden_layer_is_refused_for_its_activations() -> None:
    # 2 -> 100,000,000 -> 1: 300 million weights (7 GiB with their state) fit on many
    # machines, but a batch's activations and their gradients take 24 GiB more; the
    # operating system killed the run, with no message
    have = memory_limit()
    assert have is not None
    hidden = 100_000_000
    n_params = 4 * hidden + 1
    weights_only = 24 * n_params + 8 * 500
    if weights_only > have or weights_only + 8 * (32 + 20) * hidden <= have:
        pytest.skip("the machine's memory does not separate the two estimates")
    with pytest.raises(OptionError, match="and the activations of 52 rows at a time"):
        check_mlp_memory(n_params, [hidden], 1, 500, 1, batch_size=32, device=None, fname="fit")


def test_callbacks_run_info_and_resume_of_the_wrong_kind_are_refused_before_training() -> None:
    from bcelab.errors import DataError

    ds = builtin("circles")
    # each of these was a TypeError or KeyError, the callbacks' and run_info's after the
    # training they were given to
    with pytest.raises(OptionError, match="received int in the list"):
        fit(None, ds, epochs=1, callbacks=[5])
    with pytest.raises(OptionError, match="received NoneType in the list"):
        fit(None, ds, epochs=1, callbacks=[None])
    with pytest.raises(OptionError, match="callbacks must be a list of functions"):
        fit(None, ds, epochs=1, callbacks=print)
    with pytest.raises(OptionError, match="run_info must be a dict of JSON values; received list"):
        fit(None, ds, epochs=1, run_info=[1, 2])
    with pytest.raises(OptionError, match="not JSON serialisable: object"):
        fit(None, ds, epochs=1, run_info={"a": object()})
    with pytest.raises(OptionError, match=r"run \(resume=\) must be a path"):
        fit(None, ds, epochs=1, resume=5)
    with pytest.raises(DataError, match="received a dict with format None"):
        fit(None, ds, epochs=1, resume={"a": 1})


def test_run_info_goes_into_the_run_as_plain_json(tmp_path) -> None:
    import json

    import numpy as np

    from bcelab.train import load_checkpoint

    info = {"note": "baseline", "n": np.int64(3), "where": tmp_path}
    fit(None, builtin("circles"), epochs=1, run_info=info, out=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n"] == 3 and summary["where"] == str(tmp_path)  # entries of summary.json
    assert load_checkpoint(tmp_path / "run")["run_info"]["n"] == 3  # loads with weights_only


@pytest.mark.parametrize("lr", [1e300, 1e39, 1.5e6, float("inf")])
def test_a_learning_rate_beyond_the_accepted_range_is_refused(lr: float) -> None:
    # 1e300 passed the check and failed in torch's step: "value cannot be converted to
    # type float without overflow", a RuntimeError
    with pytest.raises(OptionError) as info:
        check_lr(lr, fname="fit", example=0.01)
    text = str(info.value)
    assert "lr (the learning rate) must be a number > 0 and <= 1e+06" in text
    assert f"received lr={lr!r}" in text and "pass e.g. lr=0.01" in text


def test_the_largest_accepted_learning_rate_is_a_float32() -> None:
    import numpy as np

    assert check_lr(MAX_LR, fname="fit", example=0.01) == MAX_LR
    assert np.isfinite(np.float32(MAX_LR))
