"""The paired state's storage (bcelab.metrics.paired_layout): the compact form that
``to_bytes``, ``copy`` and ``==`` use (only the bins that hold rows), its checks, and the
whole-histogram bytes of earlier versions."""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.errors import DataError
from bcelab.metrics import PairedBootstrapStats
from bcelab.metrics.paired_layout import (
    BINNED,
    COMPACT_LAYOUT_ID,
    LAYOUT_ID,
    compact_state,
    expand_state,
)
from bcelab.metrics.serialize import arrays_to_bytes


def _state(n: int = 3000, replicates: int = 200, seed: int = 4) -> PairedBootstrapStats:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    q = np.clip(p + rng.normal(0, 0.1, n), 0.001, 0.999)
    y = (rng.random(n) < p).astype(float)
    w = rng.exponential(size=n)
    w[::17] = 0.0  # rows of weight 0 still count as rows of their bin
    st = PairedBootstrapStats(replicates=replicates, seed=seed, kernel="numpy")
    return st.update(p, q, y, weights=w, ids=np.arange(n))


def test_empty_and_small_states_encode_their_used_bins_only() -> None:
    empty = PairedBootstrapStats()  # 200 replicates: 53 MB of histograms
    assert len(empty.to_bytes()) < 20_000
    assert PairedBootstrapStats.from_bytes(empty.to_bytes()) == empty
    small = _state(n=50)
    whole = sum(v.nbytes for v in small._canonical().values())
    assert len(small.to_bytes()) < whole / 20
    back = PairedBootstrapStats.from_bytes(small.to_bytes())
    assert back == small and back.to_bytes() == small.to_bytes()
    assert repr(back.compute().metrics) == repr(small.compute().metrics)  # NaN too


def test_compact_form_round_trips_every_array_bit_for_bit() -> None:
    st = _state()
    whole = st._canonical()
    back = expand_state(compact_state(whole), fname="test")
    assert back.keys() == whole.keys()
    for k in whole:
        assert np.array_equal(back[k], whole[k]), k
    c = compact_state(whole)
    for tag, keys in BINNED.items():  # the listed bins are exactly those with rows
        rows = whole[keys[0]]
        assert c[f"{tag}_used"].tolist() == [np.count_nonzero(rows[m]) for m in range(2)]


def test_copy_merge_and_equality_see_every_used_bin() -> None:
    a, b = _state(seed=1), _state(seed=1)
    assert a == b and a.copy() == a
    rng = np.random.default_rng(0)
    more = rng.random(10)
    b.update(more, more, (more > 0.5).astype(float), ids=np.arange(10) + 10**6)
    assert a != b  # rows in ten bins more
    half1 = PairedBootstrapStats(replicates=200, seed=1, kernel="numpy")
    half2 = half1.copy()
    n = 3000
    rng = np.random.default_rng(1)
    p = rng.random(n)
    q = np.clip(p + rng.normal(0, 0.1, n), 0.001, 0.999)
    y = (rng.random(n) < p).astype(float)
    w = rng.exponential(size=n)
    w[::17] = 0.0
    ids = np.arange(n)
    half1.update(p[::2], q[::2], y[::2], weights=w[::2], ids=ids[::2])
    half2.update(p[1::2], q[1::2], y[1::2], weights=w[1::2], ids=ids[1::2])
    assert half1.merge(half2) == a


def test_bytes_of_the_whole_histograms_still_decode() -> None:
    st = _state()
    old = arrays_to_bytes(st._canonical(), layout_id=LAYOUT_ID)
    assert len(old) > 50_000_000
    back = PairedBootstrapStats.from_bytes(old)
    assert back == st and back.to_bytes() == st.to_bytes()


def _compact_bytes(change) -> bytes:  # type: ignore[no-untyped-def]
    c = {k: v.copy() for k, v in compact_state(_state(n=200)._canonical()).items()}
    change(c)
    return arrays_to_bytes(c, layout_id=COMPACT_LAYOUT_ID)


def _swap_first_bins(c: dict[str, np.ndarray]) -> None:
    c["pt_bins"][[0, 1]] = c["pt_bins"][[1, 0]]


def _drop_bin(c: dict[str, np.ndarray]) -> None:
    c["rep_bins"] = c["rep_bins"][1:]


def _zero_rows(c: dict[str, np.ndarray]) -> None:
    c["rep_bin_rows"][3] = 0


def _past_the_end(c: dict[str, np.ndarray]) -> None:
    c["pt_bins"][int(c["pt_used"][0]) - 1] = 10**7


def _negative_limb(c: dict[str, np.ndarray]) -> None:
    c["pt_hist"][0, 0, 0] = -1


def _short_hist(c: dict[str, np.ndarray]) -> None:
    c["rep_hist_lo"] = c["rep_hist_lo"][:, :, :5]


def _huge_replicates(c: dict[str, np.ndarray]) -> None:
    c["meta"][0] = 2**30  # refused before 2**30 replicates' histograms are mapped


def _more_used_than_rows(c: dict[str, np.ndarray]) -> None:
    c["counts"][1] = 10**6


def _a_row_moved_out_of_its_bin(c: dict[str, np.ndarray]) -> None:
    c["pt_bin_rows"][0] += 1


def _extra_array(c: dict[str, np.ndarray]) -> None:
    c["extra"] = np.zeros(1, np.int64)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_swap_first_bins, "not ascending"),
        (_drop_bin, "do not match their indices"),
        (_zero_rows, "listed without rows"),
        (_past_the_end, "not ascending bins of the layout"),
        (_negative_limb, "limbs outside"),
        (_short_hist, "wrong shape"),
        (_huge_replicates, "wrong shape"),
        (_more_used_than_rows, "more used"),
        (_a_row_moved_out_of_its_bin, "not the weighted rows"),
        (_extra_array, "arrays \\["),
    ],
)
def test_inconsistent_compact_bytes_are_refused(change, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=match) as e:
        PairedBootstrapStats.from_bytes(_compact_bytes(change))
    assert "PairedBootstrapStats.from_bytes" in str(e.value)


def test_whole_histogram_bytes_with_sums_in_a_bin_without_rows_are_refused() -> None:
    arrays = {k: v.copy() for k, v in _state(n=200)._canonical().items()}
    empty_bin = int(np.flatnonzero(arrays["pt_bin_rows"][0] == 0)[0])
    arrays["pt_hist"][0, empty_bin, 0, 0] = 5  # merge and to_bytes would drop it
    with pytest.raises(DataError, match="bins without rows"):
        PairedBootstrapStats.from_bytes(arrays_to_bytes(arrays, layout_id=LAYOUT_ID))
