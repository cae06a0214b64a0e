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


def _argsort_reference(seeds, epoch: int, n: int) -> np.ndarray:
    """The definition: argsort of the keys whose low bits are the element's index."""
    bits = max(1, (n - 1).bit_length())
    keys = rng._keys(seeds, epoch, n)
    keys = ((keys >> np.uint64(bits)) << np.uint64(bits)) | np.arange(n, dtype=np.uint64)
    return np.argsort(keys, axis=1, kind="stable")


@settings(max_examples=60, deadline=None)
@given(seeds=seeds_st, epoch=st.integers(0, 10**6), n=st.integers(1, 1100))
def test_permutations_equal_the_argsort_of_their_keys(seeds, epoch, n) -> None:
    """permutations() sorts the keys themselves and keeps their low bits: the same
    permutation as argsort, for every n (powers of two included)."""
    got = rng.permutations(seeds, epoch=epoch, n=n)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, _argsort_reference(seeds, epoch, n))


def test_permutations_are_pinned() -> None:
    """The shuffles define every history: they must not change between versions."""
    assert rng.permutations([0, 7], epoch=0, n=10).tolist() == [
        [4, 8, 0, 1, 7, 6, 2, 5, 3, 9],
        [8, 1, 3, 2, 4, 7, 0, 6, 9, 5],
    ]
    assert rng.permutations([2**62], epoch=10**6, n=12).tolist() == [
        [10, 3, 2, 0, 5, 11, 6, 4, 1, 7, 8, 9]
    ]
    for n in (1, 2, 512, 513):
        np.testing.assert_array_equal(
            rng.permutations([3], epoch=5, n=n), _argsort_reference([3], 5, n)
        )


@settings(max_examples=30, deadline=None)
@given(seeds=seeds_st, first=st.integers(0, 10**6), count=st.integers(1, 9), n=st.integers(1, 600))
def test_permutations_of_epochs_equal_one_epoch_at_a_time(seeds, first, count, n) -> None:
    epochs = list(range(first, first + count))
    block = rng.permutations_of_epochs(seeds, epochs=epochs, n=n)
    assert block.shape == (count, len(seeds), n)
    for i, e in enumerate(epochs):
        np.testing.assert_array_equal(block[i], rng.permutations(seeds, epoch=e, n=n))
    np.testing.assert_array_equal(
        rng.uniform(seeds, stream=first, n=n)[0], rng.uniform(seeds[:1], stream=first, n=n)[0]
    )
