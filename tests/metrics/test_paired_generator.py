"""The counter-based Poisson(1) generator of the paired bootstrap: distribution, independence, keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bcelab.errors import DTypeError, OptionError
from bcelab.kernels import bootstrap_rng as rng_mod
from bcelab.kernels.bootstrap_rng import (
    file_row_keys,
    fnv1a,
    id_keys,
    mix,
    mixed_keys,
    thresholds,
    weights,
)


def test_thresholds_are_the_poisson_cdf() -> None:
    thr = thresholds()
    cdf = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(12)])
    np.testing.assert_allclose(thr / 2.0**32, cdf, atol=2.0**-32)
    assert thr[0] == 1580030169  # ceil(2**32 / e)
    assert int(thr[-1]) < 2**32 and len(thr) == rng_mod.MAX_WEIGHT


def test_splitmix64_reference_values() -> None:
    """The finaliser of java.util.SplittableRandom: SplitMix64 from seed 0 starts with these."""
    g = np.uint64(rng_mod.GAMMA)
    out = mix(np.arange(1, 4, dtype=np.uint64) * g)
    assert [int(v) for v in out] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]


def test_weights_pinned() -> None:
    """The weights are part of the file format of results: pin a few."""
    w = weights(mixed_keys(np.array([0, 1, 2**40], dtype=np.uint64), 7), 0, 8)
    assert w.dtype == np.int64 and w.shape == (3, 8)
    assert w.tolist() == PINNED


PINNED = [[0, 3, 1, 2, 0, 1, 1, 1], [1, 0, 0, 0, 0, 0, 2, 4], [0, 1, 0, 0, 0, 4, 1, 0]]


def test_distribution_is_poisson_one() -> None:
    c = weights(mixed_keys(np.arange(20_000, dtype=np.uint64), 3), 0, 50).ravel()
    n = c.size  # 1e6 draws
    assert abs(c.mean() - 1) < 4 / math.sqrt(n)
    assert abs(c.var() - 1) < 4 * math.sqrt(2 / n)
    freq = np.bincount(c, minlength=8)[:8] / n
    pmf = np.array([math.exp(-1) / math.factorial(k) for k in range(8)])
    assert np.all(np.abs(freq - pmf) < 5 * np.sqrt(pmf * (1 - pmf) / n) + 1e-6)
    chi2 = n * np.sum((freq[:6] - pmf[:6]) ** 2 / pmf[:6])
    assert chi2 < 25  # 5 degrees of freedom: P(chi2 > 25) ~ 1e-4


def test_independent_across_replicates_and_keys() -> None:
    c = weights(mixed_keys(np.arange(5_000, dtype=np.uint64), 11), 0, 64).astype(float)
    n = c.shape[0]
    rr = np.corrcoef(c.T)  # replicates against replicates (over rows)
    off = rr[~np.eye(64, dtype=bool)]
    assert np.max(np.abs(off)) < 5 / math.sqrt(n)
    kk = np.corrcoef(c[:200])  # rows against rows (over replicates): neighbouring keys
    assert abs(np.mean(kk[~np.eye(200, dtype=bool)])) < 0.01
    # the two halves of one hash (replicates 2i and 2i + 1) are uncorrelated too
    pairs = [np.corrcoef(c[:, 2 * i], c[:, 2 * i + 1])[0, 1] for i in range(32)]
    assert abs(np.mean(pairs)) < 3 / math.sqrt(32 * n)


def test_weights_depend_only_on_seed_key_replicate() -> None:
    keys = np.array([5, 9, 123456789], dtype=np.uint64)
    full = weights(mixed_keys(keys, 1), 0, 30)
    part = weights(mixed_keys(keys[::-1], 1), 10, 20)[::-1]
    np.testing.assert_array_equal(full[:, 10:20], part)
    other_seed = weights(mixed_keys(keys, 2), 0, 30)
    assert not np.array_equal(full, other_seed)


def test_id_keys() -> None:
    np.testing.assert_array_equal(id_keys(np.array([1, -1], dtype=np.int32)), [1, 2**64 - 1])
    np.testing.assert_array_equal(id_keys(np.array([3], dtype=np.uint64)), [3])
    s = id_keys(["a", "bc", "", "é"])
    assert s.dtype == np.uint64
    assert int(s[2]) == rng_mod.FNV_OFFSET  # FNV-1a of the empty string
    assert int(fnv1a(["a"])[0]) == 0xAF63DC4C8601EC8C  # published FNV-1a 64 test vector
    np.testing.assert_array_equal(id_keys(np.array(["a", "bc"])), id_keys(["a", "bc"]))
    np.testing.assert_array_equal(id_keys(np.array([b"a", b"bc"])), id_keys(["a", "bc"]))
    long = ["x" * 70_000, "y"]
    assert id_keys(long)[0] != id_keys(["x" * 69_999])[0]
    with pytest.raises(DTypeError, match="integers or strings"):
        id_keys(np.array([1.0, 2.0]))
    with pytest.raises(DTypeError, match="fill or drop the missing ids"):
        id_keys(np.array(["a", None], dtype=object))
    with pytest.raises(DTypeError, match="give every id one type") as e:  # mixed, none missing
        id_keys(np.array(["a", 1], dtype=object))
    assert "missing" not in str(e.value)


def test_file_row_keys() -> None:
    a = file_row_keys("data/part-0.parquet", np.arange(5))
    b = file_row_keys("data/part-0.parquet", np.arange(2, 7))
    np.testing.assert_array_equal(a[2:], b[:3])
    c = file_row_keys("data/part-1.parquet", np.arange(5))
    assert not np.intersect1d(a, c).size
    np.testing.assert_array_equal(file_row_keys(7, np.arange(3)), file_row_keys(7, [0, 1, 2]))
    with pytest.raises(OptionError, match="source_key"):
        file_row_keys(1.5, np.arange(3))


def test_kernel_draws_equal_reference() -> None:
    kern = pytest.importorskip("bcelab.kernels.bootstrap")
    keys = mixed_keys(np.arange(3_000, dtype=np.uint64), 5)
    thr = (thresholds() - (1 << 31)).astype(np.int32)
    valid = np.ones(keys.shape[0], dtype=np.uint8)
    valid[::7] = 0
    for r0, r1 in ((0, 201), (50, 101), (200, 201)):
        width = r1 - r0 + ((r1 - r0) & 1)
        cmat = np.zeros((keys.shape[0], width), dtype=np.int8)
        kern.draw_block(keys, valid, r0, 200, thr, cmat)
        ref = weights(keys, r0, r1)
        if r1 == 201:
            ref[:, 200 - r0] = 1  # the reference column
        ok = valid.astype(bool)
        np.testing.assert_array_equal(cmat[ok, : r1 - r0], ref[ok])
    # large weights (the rare second loop) are drawn too
    big = weights(keys, 0, 2_000)
    assert big.max() >= 7
