"""The training option checks that look at the machine: a model that cannot fit in memory
is refused before anything is allocated, with the sizes that decided it."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from bcelab.errors import OptionError
from bcelab.train import MLPSpec, builtin, fit
from bcelab.train.checks import check_mlp_memory, memory_limit


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
    assert "use smaller hidden= layers or fewer seeds=" in text


def test_the_floor_counts_seeds_weights_and_rows() -> None:
    have = memory_limit()
    assert have is not None
    # 24 bytes per weight and 8 per training row and output, for every seed
    per_seed = 24 * 201 + 8 * 500
    fits = have // per_seed
    check_mlp_memory(201, [50], int(fits), 500, 1, device=None, fname="fit")
    with pytest.raises(OptionError, match=f"{fits + 1:,} seeds of 201 weights"):
        check_mlp_memory(201, [50], int(fits) + 1, 500, 1, device=None, fname="fit")
