"""Images for autoencoders: built-in digits, ``.npz`` arrays and MNIST-style IDX files.

Every loader returns an :class:`ImageSet`: float32 pixels in [0, 1], laid out as
``(N, C, H, W)``, split once into a fixed train and test part, together with a
sentence saying how the pixels were scaled.  Nothing is guessed: float pixels
outside [0, 1] are an error (not silently rescaled), and so is an array whose
rank is not that of a stack of images.

Accepted inputs:

* ``None``: scikit-learn's bundled digits, 8x8 grey images, pixels ``/ 16``
  (their values are 0..16), split with a fixed permutation (seed 0) into 1348
  training and 449 test images.
* ``FILE.npz`` with an array ``x`` of shape ``(N, H, W)`` or ``(N, H, W, C)``
  (channels last, ``C <= 4``), float in [0, 1] or uint8 in 0..255 (scaled by 1/255).
* an IDX file (``train-images-idx3-ubyte``, optionally gzip-compressed), the
  format of MNIST and Fashion-MNIST: magic ``00 00 <type> <ndim>``, then
  ``ndim`` big-endian uint32 sizes, then the values, big-endian.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._core.display import count_of
from ..._core.extras import TRAINING, needs_extras
from ..._core.options import check_path
from ...errors import DataError, DomainError, DTypeError, ShapeError
from ..checks import check_test_fraction
from ..data import Dataset

__all__ = [
    "IDX_DTYPES",
    "TEST_FRACTION",
    "ImageSet",
    "from_array",
    "load_digits",
    "load_images",
    "read_idx",
]

#: Fraction of the images held out for testing (user files); the split is a fixed permutation.
TEST_FRACTION = 0.25
_SPLIT_SEED = 0

#: IDX type codes (third byte of the magic number) and their big-endian NumPy dtypes.
IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",  # unsigned byte
    0x09: ">i1",  # signed byte
    0x0B: ">i2",  # short
    0x0C: ">i4",  # int
    0x0D: ">f4",  # float
    0x0E: ">f8",  # double
}


@dataclass(frozen=True)
class ImageSet:
    """Train and test images, float32 in [0, 1], shape ``(N, C, H, W)``."""

    train: np.ndarray
    test: np.ndarray
    source: str
    scaling: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.train.shape[1:]
        return int(c), int(h), int(w)

    def to_dataset(self) -> Dataset:
        """A :class:`bcelab.train.Dataset` whose targets are the images themselves.

        This is how :func:`bcelab.train.fit` trains an autoencoder module: ``x`` is
        the input and ``y = x`` the target, so its History reports BCE, floor and excess.
        """
        return Dataset(
            self.train, self.train, self.test, self.test, name=self.source, notes=(self.scaling,)
        )

    def describe(self) -> str:
        c, h, w = self.image_shape
        return (
            f"{self.source}: {len(self.train)} train + {len(self.test)} test images of "
            f"{h}x{w}x{c}; {self.scaling}"
        )


def _split(
    x: np.ndarray, *, source: str, test_fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    n = len(x)
    if n < 2:
        raise DataError(
            f"{source}: an autoencoder needs at least 2 images (one to train on, one to test)",
            f"received {count_of(n, 'image')}",
            "pass a file that holds more images",
        )
    n_test = min(n - 1, max(1, round(n * test_fraction)))
    order = np.random.default_rng(_SPLIT_SEED).permutation(n)
    return x[order[n_test:]], x[order[:n_test]]


def _to_unit_float(x: np.ndarray, *, source: str) -> tuple[np.ndarray, str]:
    """Pixels as float32 in [0, 1] and the sentence that says how they were scaled."""
    if x.dtype == np.bool_:
        return x.astype(np.float32), "pixels are booleans, used as 0 and 1"
    if x.dtype == np.uint8:
        return (x.astype(np.float32) / np.float32(255.0)), (
            "pixels were uint8 0..255 and were scaled by 1/255 to [0, 1]"
        )
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)):
            bad = int(np.sum(~np.isfinite(x)))
            raise DomainError(
                f"{source}: pixels must be finite numbers in [0, 1]",
                f"received {count_of(bad, 'NaN or infinite pixel')}",
                "remove or repair those images",
            )
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            fix = (
                "divide by 255 (x / 255) if these are 0..255 intensities"
                if lo >= 0.0 and hi <= 255.0
                else "rescale the pixels to [0, 1], e.g. (x - x.min()) / (x.max() - x.min())"
            )
            raise DomainError(
                f"{source}: float pixels must lie in [0, 1] (a sigmoid output can only "
                "reconstruct values in [0, 1])",
                f"received values in [{lo:g}, {hi:g}]",
                fix,
            )
        return x.astype(np.float32), f"pixels are floats in [0, 1] ({x.dtype}), used as they are"
    raise DTypeError(
        f"{source}: pixels must be uint8 (0..255) or float in [0, 1]",
        f"received dtype {x.dtype}",
        "convert them, e.g. x.astype('uint8') for 0..255 values or x / x.max() for floats",
    )


def from_array(
    x: np.ndarray, /, *, source: str = "array", test_fraction: float = TEST_FRACTION
) -> ImageSet:
    """An :class:`ImageSet` from ``(N, H, W)`` or channels-last ``(N, H, W, C)`` pixels.

    >>> s = from_array(np.zeros((8, 4, 4), dtype=np.uint8))
    >>> s.train.shape, s.test.shape
    ((6, 1, 4, 4), (2, 1, 4, 4))
    """
    hint = f"pass e.g. test_fraction={TEST_FRACTION} (the default)"
    test_fraction = check_test_fraction(test_fraction, fname="from_array", hint=hint)
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None, :, :]
    elif x.ndim == 4:
        if x.shape[3] > 4:
            raise ShapeError(
                f"{source}: a 4-D image array must be channels last, (N, H, W, C) with C <= 4",
                f"received shape {x.shape}",
                "if it is channels first (N, C, H, W), pass x.transpose(0, 2, 3, 1)",
            )
        x = np.transpose(x, (0, 3, 1, 2))
    else:
        raise ShapeError(
            f"{source}: images must be an array of shape (N, H, W) or (N, H, W, C)",
            f"received an array of rank {x.ndim} and shape {x.shape}",
            "stack the images along a first axis; a single image needs a leading axis of 1",
        )
    if x.shape[0] == 0 or 0 in x.shape[1:]:
        raise DataError(
            f"{source}: the dataset must hold at least 2 non-empty images",
            f"received an array of shape {x.shape}",
            "check that the file holds the images you meant",
        )
    pixels, scaling = _to_unit_float(x, source=source)
    train, test = _split(np.ascontiguousarray(pixels), source=source, test_fraction=test_fraction)
    return ImageSet(train, test, source, scaling)


def _digits_pixels() -> np.ndarray:
    """The 1797 digit images (0..16) as float64 ``(N, 8, 8)``, in scikit-learn's order.

    Read straight from the CSV bundled with scikit-learn (the file behind
    ``sklearn.datasets.load_digits``: 64 pixel columns, then the label), which skips
    importing scikit-learn (about a second); falls back to ``load_digits`` if the file moved.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        csv = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/digits.csv.gz"
        if csv.is_file():
            with gzip.open(csv, "rt") as fh:
                table = np.loadtxt(fh, delimiter=",", dtype=np.float64)
            return table[:, :-1].reshape(-1, 8, 8)
    from sklearn.datasets import load_digits as _sk_digits  # optional, a second to import

    return np.asarray(_sk_digits().images, dtype=np.float64)


def load_digits() -> ImageSet:
    """scikit-learn's bundled 8x8 digits, pixels / 16, fixed split: 1348 train, 449 test."""
    x = (_digits_pixels() / 16.0).astype(np.float32)[:, None, :, :]
    train, test = _split(x, source="digits")
    return ImageSet(
        train, test, "digits (scikit-learn)", "pixels were 0..16 and were divided by 16"
    )


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(
            "a readable file",
            f"could not read {str(path)!r} ({e.strerror})",
            "check the path",
        ) from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(
                f"{path.name}: a complete gzip file",
                f"received a damaged one ({e})",
                "download the file again",
            ) from None
    return raw


def read_idx(path: str | os.PathLike[str], /) -> np.ndarray:
    """Parse an IDX file (MNIST format, optionally gzip-compressed) into a NumPy array.

    Layout: bytes 0-1 are zero, byte 2 is the type code (see :data:`IDX_DTYPES`),
    byte 3 the number of dimensions ``d``; then ``d`` big-endian uint32 sizes;
    then ``prod(sizes)`` values in big-endian order.  Trailing bytes are an error.
    """
    p = Path(path)
    data = _read_bytes(p)
    name = p.name
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        got = data[:4].hex(" ") if data else "an empty file"
        raise DataError(
            f"{name}: an IDX file starting with the magic number 00 00 <type> <ndim>, "
            f"type one of {', '.join(f'{k:02x}' for k in IDX_DTYPES)}",
            f"received first bytes {got}",
            "pass an MNIST-style file such as train-images-idx3-ubyte[.gz], or an .npz with x",
        )
    dtype = np.dtype(IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(
            f"{name}: an IDX header with {ndim} dimension sizes ({header} bytes)",
            f"received {len(data)} bytes" if ndim else "a header that declares 0 dimensions",
            "the file is truncated or not an IDX file; download it again",
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no int64 wrap-around
    body = len(data) - header
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise DataError(
            f"{name}: {expected} bytes of data after the header for sizes {dims} of {dtype.name}",
            f"received {body} bytes (the file is {what})",
            "download the file again (and decompress it completely, or keep the .gz)",
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def _load_npz(path: Path) -> np.ndarray:
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path.name}: a readable .npz file (a zip archive, as written by np.savez)",
            "received a file that is not a zip archive",
            "write the file again with np.savez(path, x=images)",
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.keys())
            if "x" not in keys:
                raise DataError(
                    f"{path.name}: an .npz file with an array named 'x'",
                    f"received arrays {keys}" if keys else "received an .npz with no arrays",
                    "save it with np.savez(path, x=images)",
                )
            return np.asarray(f["x"])
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataError(
            f"{path.name}: a readable .npz file (as written by np.savez)",
            f"could not read it ({e})",
            "write the file again with np.savez(path, x=images)",
        ) from None
    except DataError:  # the missing 'x' above (a ValueError too): as it is
        raise
    except ValueError as e:  # object arrays need pickle
        raise DataError(
            f"{path.name}: a numeric array 'x'",
            f"could not load it ({e})",
            "save a numeric array, e.g. np.savez(path, x=np.asarray(images, dtype='uint8'))",
        ) from None


@needs_extras("bcelab.train.load_images", TRAINING)
def load_images(path: str | os.PathLike[str] | None = None, /) -> ImageSet:
    """Load images: ``None`` (the built-in digits), an ``.npz`` or an IDX file."""
    if path is None:
        return load_digits()
    hint = "pass the path of an .npz or IDX file, or None for the built-in digits"
    p = check_path(path, name="path", fname="load_images", hint=hint)
    if not p.is_file():
        raise DataError(
            "an existing .npz or IDX file",
            f"received {str(p)!r}, which " + ("is a directory" if p.is_dir() else "does not exist"),
            "check the path, or pass None for the built-in digits",
        )
    if p.suffix == ".npz":
        x = _load_npz(p)
    else:
        x = read_idx(p)
    return from_array(x, source=p.name)
