"""The counter-based generator behind per-seed initialisation and shuffles."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bcelab.train import rng

seeds_st = st.lists(st.integers(0, 2**62), min_size=1, max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(seeds=seeds_st, epoch=st.integers(0, 10**6), n=st.integers(1, 700))
def test_rows_are_permutations_and_depend_only_on_their_seed(seeds, epoch, n) -> None:
    p = rng.permutations(seeds, epoch=epoch, n=n)
    assert p.shape == (len(seeds), n)
    for k, s in enumerate(seeds):
        np.testing.assert_array_equal(np.sort(p[k]), np.arange(n))
        np.testing.assert_array_equal(p[k], rng.permutations([s], epoch=epoch, n=n)[0])


@settings(max_examples=60, deadline=None)
@given(seeds=seeds_st, stream=st.integers(0, 2**45), n=st.integers(1, 300))
def test_uniform_in_unit_interval_and_per_seed(seeds, stream, n) -> None:
    u = rng.uniform(seeds, stream=stream, n=n)
    assert ((u >= 0) & (u < 1)).all()
    np.testing.assert_array_equal(u[-1], rng.uniform([seeds[-1]], stream=stream, n=n)[0])


def test_shuffles_look_uniform() -> None:
    # each element's position over many epochs: mean (n-1)/2 within a few standard errors
    n, epochs = 50, 2000
    pos = np.stack([np.argsort(rng.permutations([3], epoch=e, n=n)[0]) for e in range(epochs)])
    se = np.sqrt((n * n - 1) / 12 / epochs)
    assert np.abs(pos.mean(axis=0) - (n - 1) / 2).max() < 5 * se
    u = rng.uniform([0], stream=1, n=100_000)[0]
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
