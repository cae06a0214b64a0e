"""Loading images for the autoencoder: digits, .npz and MNIST-style IDX files, good and bad."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcelab.errors import BCELabError, DataError, DomainError, DTypeError, OptionError, ShapeError
from bcelab.train.autoencoder.images import (
    TEST_FRACTION,
    from_array,
    load_digits,
    load_images,
    read_idx,
)

# IDX layout from the MNIST page (yann.lecun.com/exdb/mnist, "THE IDX FILE FORMAT"):
# two zero bytes, a type byte, a dimension-count byte, big-endian uint32 sizes, data.
IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode ``arr`` as IDX independently of the parser (struct for the header)."""
    code = IDX_CODES[arr.dtype.kind + str(arr.dtype.itemsize)]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_idx_uint8_images_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    x = np.arange(5 * 3 * 4, dtype=np.uint8).reshape(5, 3, 4) * 4
    plain = write(tmp_path / "train-images-idx3-ubyte", idx_bytes(x))
    gz = write(tmp_path / "train-images-idx3-ubyte.gz", gzip.compress(idx_bytes(x)))
    np.testing.assert_array_equal(read_idx(plain), x)
    np.testing.assert_array_equal(read_idx(gz), x)
    s = load_images(gz)
    assert s.image_shape == (1, 3, 4)
    assert len(s.train) + len(s.test) == 5
    got = np.sort(np.concatenate([s.train, s.test]).reshape(5, -1), axis=0)
    np.testing.assert_allclose(got, np.sort(x.reshape(5, -1) / 255.0, axis=0), rtol=1e-7)
    assert "1/255" in s.scaling and "uint8" in s.scaling


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(sorted(IDX_CODES)),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_idx_parser_reads_every_type_and_rank(
    tmp_path: Path, kind: str, shape: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    arr = (rng.normal(size=shape) * 100).astype(kind)
    got = read_idx(write(tmp_path / "a.idx", idx_bytes(arr)))
    assert got.shape == tuple(shape) and got.dtype == np.dtype(kind)
    np.testing.assert_array_equal(got, arr)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x08\x03\x00\x00" + b"\x00" * 20, "magic number"),  # first bytes not 00 00
        (b"\x00\x00\x07\x03" + b"\x00" * 20, "magic number"),  # unknown type code 07
        (b"PK\x03\x04junk", "magic number"),
        (b"", "empty file"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated"),  # header cut after one size
    ],
)
def test_idx_bad_headers_say_what_is_wrong(tmp_path: Path, data: bytes, words: str) -> None:
    with pytest.raises(DataError, match=words):
        read_idx(write(tmp_path / "bad-idx3-ubyte", data))


def test_idx_truncated_or_too_long_body(tmp_path: Path) -> None:
    full = idx_bytes(np.zeros((3, 4, 4), dtype=np.uint8))
    with pytest.raises(DataError, match=r"received 40 bytes \(the file is truncated\)"):
        load_images(write(tmp_path / "cut-idx3-ubyte", full[:-8]))
    with pytest.raises(DataError, match="longer than its header"):
        read_idx(write(tmp_path / "long-idx3-ubyte", full + b"\x00"))
    with pytest.raises(DataError, match="damaged"):  # a gzip stream cut in the middle
        read_idx(write(tmp_path / "cut.gz", gzip.compress(full)[:-10]))


def test_idx_sizes_whose_product_overflows_int64_are_a_truncated_file(tmp_path: Path) -> None:
    # 2**31 * 2**31 * 8 = 2**65 wrapped to 0 in np.prod(dtype=int64): the empty body
    # passed the length check and reshape raised a ValueError
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 2**31, 2**31, 8)
    with pytest.raises(DataError) as e:
        load_images(write(tmp_path / "huge-idx3-ubyte", header))
    text = str(e.value)
    assert f"{2**65} bytes of data after the header" in text
    assert "received 0 bytes (the file is truncated)" in text and "download the file again" in text


def test_idx_label_file_is_not_images(tmp_path: Path) -> None:
    labels = write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.arange(10, dtype=np.uint8)))
    with pytest.raises(ShapeError, match="rank 1"):
        load_images(labels)


def test_idx_empty_dataset(tmp_path: Path) -> None:
    empty = write(tmp_path / "e-idx3-ubyte", idx_bytes(np.zeros((0, 28, 28), dtype=np.uint8)))
    with pytest.raises(DataError, match=r"shape \(0, 1, 28, 28\)"):
        load_images(empty)


def test_npz_float_and_uint8_and_channels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    xf = rng.uniform(size=(12, 5, 6)).astype(np.float32)
    np.savez(tmp_path / "f.npz", x=xf)
    s = load_images(tmp_path / "f.npz")
    assert s.image_shape == (1, 5, 6)
    assert len(s.test) == round(12 * TEST_FRACTION) and len(s.train) == 12 - len(s.test)
    assert "used as they are" in s.scaling
    # every image lands in exactly one split, unchanged
    both = np.concatenate([s.train, s.test])[:, 0]
    assert sorted(map(bytes, both)) == sorted(map(bytes, xf))

    xu = rng.integers(0, 256, size=(8, 4, 4, 3), dtype=np.uint8)
    np.savez(tmp_path / "u.npz", x=xu)
    s = load_images(tmp_path / "u.npz")
    assert s.image_shape == (3, 4, 4)
    assert s.train.dtype == np.float32 and s.train.min() >= 0 and s.train.max() <= 1
    # channels-last (H, W, C) became (C, H, W), values divided by 255
    img = s.test[0]
    match = [i for i in range(8) if np.allclose(np.transpose(xu[i], (2, 0, 1)) / 255.0, img)]
    assert len(match) == 1
    assert "scaled by 1/255" in s.describe()


def test_split_is_fixed() -> None:
    x = np.random.default_rng(0).uniform(size=(20, 2, 2))
    a, b = from_array(x), from_array(x)
    np.testing.assert_array_equal(a.test, b.test)
    np.testing.assert_array_equal(a.train, b.train)


@pytest.mark.parametrize("lo, hi, fix", [(0.0, 255.0, "divide by 255"), (-1.0, 1.0, "rescale")])
def test_float_pixels_outside_unit_interval(tmp_path: Path, lo: float, hi: float, fix: str) -> None:
    x = np.linspace(lo, hi, 4 * 3 * 3).reshape(4, 3, 3)
    np.savez(tmp_path / "bad.npz", x=x)
    with pytest.raises(DomainError) as e:
        load_images(tmp_path / "bad.npz")
    assert f"received values in [{lo:g}, {hi:g}]" in str(e.value)
    assert fix in str(e.value)


def test_non_finite_and_bad_dtypes() -> None:
    x = np.full((4, 3, 3), 0.5)
    x[1, 1, 1] = np.nan
    with pytest.raises(DomainError, match="1 NaN or infinite pixel"):
        from_array(x)
    with pytest.raises(DTypeError, match="int16"):
        from_array(np.zeros((4, 3, 3), dtype=np.int16))


@pytest.mark.parametrize("shape", [(10,), (10, 64), (2, 3, 4, 5, 1)])
def test_wrong_rank(shape: tuple[int, ...]) -> None:
    with pytest.raises(ShapeError, match=f"rank {len(shape)}"):
        from_array(np.zeros(shape, dtype=np.float32))


def test_channels_first_is_not_guessed() -> None:
    with pytest.raises(ShapeError, match="channels first"):
        from_array(np.zeros((5, 1, 28, 28), dtype=np.uint8))  # (N, C, H, W)


@pytest.mark.parametrize("n", [0, 1])
def test_too_few_images(n: int) -> None:
    with pytest.raises(DataError):
        from_array(np.zeros((n, 4, 4), dtype=np.uint8))


def test_npz_without_x_and_not_an_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "k.npz", images=np.zeros((3, 2, 2)))
    with pytest.raises(DataError, match=r"received arrays \['images'\]") as e:
        load_images(tmp_path / "k.npz")
    assert str(e.value).count("np.savez") == 1  # one message, not one inside another
    with pytest.raises(DataError, match=r"readable \.npz"):
        load_images(write(tmp_path / "junk.npz", b"not a zip file at all"))
    with pytest.raises(DataError, match="does not exist"):
        load_images(tmp_path / "missing.npz")


def test_digits_are_pixels_over_16_with_a_fixed_split() -> None:
    from sklearn.datasets import load_digits as sk

    s = load_digits()
    assert s.image_shape == (1, 8, 8)
    assert (len(s.train), len(s.test)) == (1348, 449)  # 1797 images, 25% held out
    assert s.train.min() == 0.0 and s.train.max() == 1.0
    raw = sk().images  # 0..16
    # the first test image is one of the digits divided by 16, exactly
    diffs = np.abs(raw / 16.0 - s.test[0, 0]).reshape(len(raw), -1).max(axis=1)
    assert diffs.min() == 0.0
    np.testing.assert_array_equal(s.test, load_digits().test)


def test_digits_read_from_the_bundled_csv_equal_sklearns(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from sklearn.datasets import load_digits as sk

    from bcelab.train.autoencoder import images

    expected = sk().images
    np.testing.assert_array_equal(images._digits_pixels(), expected)
    # without the CSV file (find_spec finds nothing) it falls back to scikit-learn itself
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    np.testing.assert_array_equal(images._digits_pixels(), expected)


def test_errors_are_bcelab_errors(tmp_path: Path) -> None:
    with pytest.raises(BCELabError):
        load_images(tmp_path)  # a directory


def test_a_path_that_is_not_a_path_is_an_option_error() -> None:
    with pytest.raises(OptionError) as e:  # was pathlib's TypeError
        load_images(5)  # type: ignore[arg-type]
    assert "load_images: path must be a path" in str(e.value) and "received int" in str(e.value)


@pytest.mark.parametrize("frac", [0, 2, -1, 1.0, float("nan"), "0.5"])
def test_test_fraction_outside_0_1_is_refused(frac: object) -> None:
    # nan was a ValueError from round(); 0, 2 and -1 were clamped to 1 or n - 1 test images
    with pytest.raises(OptionError) as e:
        from_array(np.zeros((10, 4, 4), np.uint8), test_fraction=frac)  # type: ignore[arg-type]
    text = str(e.value)
    assert "from_array: test_fraction must lie strictly between 0 and 1" in text
    assert f"received test_fraction={frac!r}" in text and "test_fraction=0.25" in text
