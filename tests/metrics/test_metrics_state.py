"""BinaryStats as a mergeable state: merge = whole, batched = concatenated, serialisation."""

from __future__ import annotations

import json
import pickle
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcelab.errors import DataError, EmptyReductionError
from bcelab.metrics import BinaryStats
from bcelab.metrics.histogram import LAYOUT_ID
from bcelab.metrics.serialize import arrays_to_bytes


def _rows(seed: int, n: int, *, soft: bool, logits: bool, dirty: bool, weighted: bool):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n) * rng.choice([0.5, 3.0, 30.0])
    preds = z if logits else 1.0 / (1.0 + np.exp(-z))
    y = rng.random(n) if soft else (rng.random(n) < 0.3).astype(np.float64)
    if dirty and n:
        k = max(1, n // 10)
        preds[rng.integers(0, n, k)] = np.nan
        y[rng.integers(0, n, k)] = rng.choice([np.nan, -1.0, 2.0], k)
    w = rng.random(n) * rng.choice([0.0, 1.0], n, p=[0.1, 0.9]) if weighted else None
    return y, preds, w


def assert_same_state(a: BinaryStats, b: BinaryStats, rel: float = 1e-12) -> None:
    da, db = a.to_arrays(), b.to_arrays()
    for key in ("counts", "hist_n", "pmin", "pmax"):
        np.testing.assert_array_equal(da[key], db[key], err_msg=key)
    sa, sb = da["sums"] + da["sums_lo"], db["sums"] + db["sums_lo"]
    np.testing.assert_allclose(sa, sb, rtol=rel, atol=0, err_msg="sums")
    # per-bin sums: relative to each bin's own magnitude (all terms are >= 0)
    np.testing.assert_allclose(da["hist"], db["hist"], rtol=rel, atol=1e-300, err_msg="hist")


flags = st.fixed_dictionaries(
    {
        "soft": st.booleans(),
        "logits": st.booleans(),
        "dirty": st.booleans(),
        "weighted": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), frac=st.floats(0, 1), f=flags)
def test_merge_of_halves_equals_whole(seed: int, n: int, frac: float, f: dict) -> None:
    y, p, w = _rows(seed, n, **f)
    k = int(frac * n)
    whole = BinaryStats().update(p, y, weights=w, logits=f["logits"])
    w1 = None if w is None else w[:k]
    w2 = None if w is None else w[k:]
    a = BinaryStats().update(p[:k], y[:k], weights=w1, logits=f["logits"])
    b = BinaryStats().update(p[k:], y[k:], weights=w2, logits=f["logits"])
    a_rows, b_before = a.rows, b.copy()
    # operators and functions return new objects and leave their inputs alone
    assert_same_state(b + a, whole)
    assert_same_state(BinaryStats.merge_all([a, BinaryStats(), b]), whole)
    assert a.rows == a_rows
    # merge changes the state in place: a then holds every row, b is unchanged
    assert a.merge(b) is a
    assert_same_state(a, whole)
    assert_same_state(b, b_before)
    assert whole.rows == n


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4000), f=flags)
def test_batched_equals_concatenated(seed: int, n: int, f: dict) -> None:
    y, p, w = _rows(seed, n, **f)
    whole = BinaryStats().update(p, y, weights=w, logits=f["logits"])
    s = BinaryStats()
    cuts = np.sort(np.random.default_rng(seed).integers(0, n, 5))
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True):
        s.update(p[lo:hi], y[lo:hi], weights=None if w is None else w[lo:hi], logits=f["logits"])
    assert_same_state(s, whole)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), f=flags)
def test_bytes_roundtrip_is_exact(seed: int, n: int, f: dict) -> None:
    y, p, w = _rows(seed, n, **f)
    s = BinaryStats().update(p, y, weights=w, logits=f["logits"])
    assert BinaryStats.from_bytes(s.to_bytes()) == s
    assert BinaryStats.from_arrays(s.to_arrays()) == s
    assert pickle.loads(pickle.dumps(s)) == s


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_corrupt_bytes_raise_data_error(data: st.DataObject) -> None:
    y, p, _ = _rows(3, 200, soft=False, logits=False, dirty=True, weighted=False)
    blob = bytearray(BinaryStats().update(p, y).to_bytes())
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend", "garbage"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif kind == "extend":
        blob += data.draw(st.binary(min_size=1, max_size=20))
    else:
        blob = bytearray(data.draw(st.binary(max_size=200)))
    with pytest.raises(DataError):
        BinaryStats.from_bytes(bytes(blob))


def test_from_arrays_rejects_inconsistent_state() -> None:
    s = BinaryStats().update(np.array([0.3, 0.6]), [1.0, 0.0])
    d = s.to_arrays()
    d["counts"][1] += 5  # more used rows than the histogram holds
    with pytest.raises(DataError, match="do not add up"):
        BinaryStats.from_arrays(d)
    d = s.to_arrays()
    del d["hist"]
    with pytest.raises(DataError, match="keys"):
        BinaryStats.from_arrays(d)
    d = s.to_arrays()
    d["hist"] = d["hist"][:10]
    with pytest.raises(DataError, match="shape"):
        BinaryStats.from_arrays(d)


def _set(key: str, index: int, value: float):
    def f(d: dict) -> None:
        d[key][index] = value

    return f


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_set("sums_lo", 0, np.nan), "NaN or negative sums"),
        (_set("sums", 0, np.nan), "NaN or negative sums"),
        (_set("sums", 0, -5.0), "NaN or negative sums"),  # total weight
        (_set("sums", 4, -5.0), "NaN or negative sums"),  # sum of w * BCE
        (_set("sums_lo", 4, -np.inf), "NaN or negative sums"),
        (_set("pmin", 0, 0.9), "prediction range"),  # above pmax = 0.6
        (_set("pmax", 0, 2.0), "prediction range"),  # 4 * pmin + 2, a 'sum' op
        (_set("pmin", 0, np.nan), "prediction range"),
    ],
)
def test_from_arrays_and_bytes_reject_bad_sums_and_range(change, match: str) -> None:
    s = BinaryStats().update(np.array([0.3, 0.6]), [1.0, 0.0])
    d = s.to_arrays()
    change(d)
    with pytest.raises(DataError, match=match):
        BinaryStats.from_arrays(d)
    blob = arrays_to_bytes(d, layout_id=LAYOUT_ID)  # the same arrays, a valid checksum
    with pytest.raises(DataError, match=match):
        BinaryStats.from_bytes(blob)


def test_from_arrays_rejects_narrower_dtypes() -> None:
    s = BinaryStats().update(np.array([0.3, 0.6]), [1.0, 0.0])
    for key, dtype in [("sums", np.float32), ("hist", np.float32), ("counts", np.int32)]:
        d = s.to_arrays()
        d[key] = d[key].astype(dtype)
        with pytest.raises(DataError, match="dtype"):
            BinaryStats.from_arrays(d)
    d = s.to_arrays()
    d["sums"] = d["sums"].astype(">f8")  # the same dtype in the other byte order is fine
    assert BinaryStats.from_arrays(d) == s


def test_from_arrays_keeps_valid_edge_states() -> None:
    empty = BinaryStats()
    excluded = BinaryStats().update(np.array([np.nan, 0.5]), [1.0, 7.0])  # no row used
    infinite = BinaryStats().update(np.array([0.0, 1.0]), [1.0, 0.0])  # an infinite loss
    heavy = BinaryStats().update(np.array([0.3, 0.3]), [1.0, 0.0], weights=[1e308, 1e308])
    with np.errstate(over="ignore"):
        merged = heavy + heavy + infinite + excluded + empty
    for s in (empty, excluded, infinite, heavy, merged, empty + excluded):
        assert BinaryStats.from_arrays(s.to_arrays()) == s
        assert BinaryStats.from_bytes(s.to_bytes()) == s


def test_reduce_ops_reproduce_merge() -> None:
    # what torch.distributed.all_reduce does, key by key, with the declared ops
    states = [
        BinaryStats().update(
            *_rows(s, 300, soft=True, logits=False, dirty=True, weighted=True)[1::-1]
        )
        for s in range(3)
    ]
    ops = {"sum": np.sum, "min": np.min, "max": np.max}
    arrays = [s.to_arrays() for s in states]
    assert set(BinaryStats.REDUCE_OPS) == set(arrays[0])
    reduced = {
        k: ops[op](np.stack([a[k] for a in arrays]), axis=0)
        for k, op in BinaryStats.REDUCE_OPS.items()
    }
    assert_same_state(BinaryStats.from_arrays(reduced), BinaryStats.merge_all(states))


def test_empty_state() -> None:
    s = BinaryStats()
    assert s.is_empty and s.rows == 0
    s.update(np.zeros(0), np.zeros(0))
    assert s.is_empty
    with pytest.raises(EmptyReductionError):
        s.compute()
    # all rows excluded: counted, and compute says why it cannot give metrics
    s.update(np.array([0.5, 0.5]), [np.nan, 2.0])
    assert s.rows == 2 and s.rows_used == 0 and not s.is_empty
    with pytest.raises(EmptyReductionError, match="2 missing or invalid targets"):
        s.compute()
    assert BinaryStats.merge_all([]).is_empty


def test_state_size_is_fixed() -> None:
    small = BinaryStats().update(np.array([0.5]), [1.0])
    y, p, _ = _rows(0, 100_000, soft=False, logits=False, dirty=False, weighted=False)
    big = BinaryStats().update(p, y)
    assert len(small.to_bytes()) == len(big.to_bytes()) < 1_000_000


_FORK_SCRIPT = """
import multiprocessing as mp
import numpy as np
from bcelab.metrics import BinaryStats
from bcelab.metrics.histogram import LAYOUT_ID
from bcelab.metrics.serialize import arrays_to_bytes


def child(q, y, p):
    q.put(BinaryStats().update(y, p).to_bytes())


if __name__ == "__main__":
    r = np.random.default_rng(7)
    p = r.random(200_000)
    y = (r.random(200_000) < p).astype(np.float64)
    ref = BinaryStats().update(y, p)  # multi-threaded: creates the thread pool here
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=child, args=(q, y, p))
    proc.start()
    blob = q.get(timeout=60)  # a pool inherited through fork() would hang here
    proc.join(timeout=10)
    assert BinaryStats.from_bytes(blob) == ref
    print("fork ok")
"""


def test_threaded_update_works_after_fork(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # In a fresh interpreter: forking a pytest worker that has imported JAX (multithreaded)
    # could itself deadlock, which is not what this test is about.
    import subprocess
    import sys

    script = tmp_path / "fork_update.py"
    script.write_text(_FORK_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and "fork ok" in out.stdout, out.stderr[-2000:]


def test_merge_copy_and_pickle_keep_the_options() -> None:
    p, y = np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 1.0])
    a = BinaryStats(kernel="numpy", threads=1).update(p, y)
    b = BinaryStats(kernel="auto", threads=3).update(p, y)
    assert a.merge(b) is a
    assert (a.kernel, a.threads) == ("numpy", 1)
    for c in (a.copy(), a + b, pickle.loads(pickle.dumps(a))):
        assert (c.kernel, c.threads) == ("numpy", 1)
    # merge_all: a new state with the first state's options
    m = BinaryStats.merge_all([b, a])
    assert m is not b and (m.kernel, m.threads) == ("auto", 3)
    assert m.rows == a.rows + b.rows
    assert (BinaryStats.merge_all([a, b]).kernel, BinaryStats.merge_all([a, b]).threads) == (
        "numpy",
        1,
    )


def test_from_bytes_with_a_huge_header_shape_is_a_data_error() -> None:
    # [2**62, 4] float64 is 2**67 bytes: np.prod wrapped around to 0, and reshape raised
    blob = BinaryStats().update(np.array([0.3, 0.6]), [1.0, 0.0]).to_bytes()
    hlen = struct.unpack_from("<I", blob, 10)[0]
    for shape in ([2**62, 4], [2**61, -2], [-1, 7], [2**64]):
        meta = json.loads(blob[14 : 14 + hlen])
        meta["arrays"][0][2] = shape
        header = json.dumps(meta).encode()
        body = blob[:8] + struct.pack("<HI", 1, len(header)) + header + blob[14 + hlen : -4]
        with pytest.raises(DataError, match="runs past the end"):
            BinaryStats.from_bytes(body + struct.pack("<I", zlib.crc32(body)))
