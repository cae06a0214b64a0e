"""Data for training: the built-in problems and the user's own CSV/Parquet tables.

Everything ends up as a :class:`Dataset`: float32 NumPy arrays ``x`` of shape
``(N, ...)`` and targets ``y`` of shape ``(N, K)`` in [0, 1] (K outputs per row).
Features of tables and of ``breast-cancer`` are standardised with the *training*
split's mean and standard deviation only, so nothing about the test set leaks in; the
dataset keeps them, with the feature and target columns, as a :class:`TableSpec`, from
which :func:`bcelab.train.predict` prepares new rows the same way.

>>> ds = builtin("circles")
>>> ds.x_train.shape, ds.y_train.shape, ds.x_test.shape
((500, 2), (500, 1), (500, 2))
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._core.display import count_of
from .._core.extras import TRAINING, needs_extras
from .._core.options import check_path
from .._core.tables import Label, check_positive_label
from ..errors import DataError, DomainError, OptionError, ShapeError
from . import rng
from .checks import check_split
from .scaling import standardise, standardised
from .tables import read_table, to_xy

__all__ = [
    "BUILTINS",
    "Dataset",
    "TableSpec",
    "as_dataset",
    "builtin",
    "fingerprint",
    "load_table",
    "make_circles",
    "make_moons",
]

BUILTINS = ("circles", "moons", "breast-cancer")


@dataclass(frozen=True)
class TableSpec:
    """How rows of a table become the model's inputs: the feature columns in order, the
    training split's means and scales (:math:`x' = (x - mean) / scale`), and the target
    column with its ``positive_label`` (None: the targets are 0/1 or in [0, 1])."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    target: str
    positive_label: Label | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "target": self.target,
            "positive_label": self.positive_label,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableSpec:
        return cls(
            tuple(str(f) for f in d["features"]),
            tuple(float(v) for v in d["mean"]),
            tuple(float(v) for v in d["scale"]),
            str(d["target"]),
            d.get("positive_label"),
        )

    def transform(self, x: np.ndarray, /, *, source: str = "the data") -> np.ndarray:
        """Features ``(N, D)`` (float64) scaled as the training split was, as float32; a
        DataError names values beyond float32's range once scaled (``source``: the table)."""
        return standardised(x, self.mean, self.scale, features=self.features, source=source)


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays (float32), with names for reports; ``table`` says how rows of
    a table become inputs (None for arrays passed directly)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "data"
    feature_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    table: TableSpec | None = None

    @property
    def hard_targets(self) -> bool:
        """True when every target is exactly 0 or 1 (accuracy is then reported)."""
        return bool(
            np.isin(self.y_train, (0.0, 1.0)).all() and np.isin(self.y_test, (0.0, 1.0)).all()
        )

    @property
    def one_class(self) -> int | None:
        """0 or 1 when every training target is that label (the model can only learn to
        predict it), else None."""
        y = self.y_train.reshape(-1)
        if y.size and y[0] in (0.0, 1.0) and (y == y[0]).all():
            return int(y[0])
        return None


def fingerprint(*arrays: np.ndarray) -> str:
    """16 hex digits of SHA-256 over the arrays' shapes and bytes: a run's data, for
    ``resume=`` to check that it continues on the same data."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _as_targets(y: object, n: int, split: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim == 1:  # documented: one output per row
        arr = arr.reshape(-1, 1)
    if arr.ndim < 2 or arr.shape[0] != n:
        raise ShapeError(
            f"y_{split} must have one row per row of x_{split}: shape (N,) or (N, K)",
            f"received shape {arr.shape} for {count_of(n, 'row')} of x",
            "pass one target (or one row of targets) per example",
        )
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"y_{split} must be numeric",
            f"received dtype {arr.dtype}",
            "encode the classes as 0 and 1",
        )
    a = arr.astype(np.float64)
    bad = ~((a >= 0) & (a <= 1))
    if bad.any():
        vals = np.unique(a[bad])[:10]
        raise DomainError(
            f"y_{split} must hold values in [0, 1] (0/1 labels or soft targets)",
            f"found {', '.join(f'{v:g}' for v in vals)}",
            "map the classes to 0 and 1 (or scale soft targets into [0, 1])",
        )
    return np.ascontiguousarray(a.astype(np.float32))


def as_dataset(data: object, /) -> Dataset:
    """A :class:`Dataset` unchanged, or one built from ``(x_train, y_train, x_test, y_test)``.

    A 1-D target array means one output per row and becomes a column ``(N, 1)``.
    """
    if isinstance(data, Dataset):
        return data
    if not (isinstance(data, (tuple, list)) and len(data) == 4):
        raise OptionError(
            "data must be a bcelab.train.Dataset or (x_train, y_train, x_test, y_test)",
            f"received {type(data).__name__}",
            "use bcelab.train.builtin('circles') or pass four arrays",
        )
    xs = []
    for split, x in (("train", data[0]), ("test", data[2])):
        a = np.asarray(x)
        if a.ndim < 2 or a.shape[0] == 0:
            raise ShapeError(
                f"x_{split} must have shape (N, features...) with N >= 1",
                f"received shape {a.shape}",
                "pass a 2-D array of examples",
            )
        if a.dtype.kind not in "biuf" or not np.isfinite(a).all():
            raise DataError(
                f"x_{split} must be finite numbers",
                f"received dtype {a.dtype} with non-finite or non-numeric values",
                "clean the features first",
            )
        big = np.abs(a) > np.finfo(np.float32).max
        if big.any():
            raise DataError(
                f"x_{split} within float32's range (the model's dtype), |x| below 3.4e38",
                f"received {a[big][0]:.6g} ({count_of(int(big.sum()), 'value')} beyond it)",
                "standardise or rescale the features first",
            )
        xs.append(np.ascontiguousarray(a.astype(np.float32)))
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise ShapeError(
            "x_train and x_test must have the same shape per example",
            f"received {xs[0].shape[1:]} and {xs[1].shape[1:]}",
            "use the same features for both splits",
        )
    yt = _as_targets(data[1], xs[0].shape[0], "train")
    ye = _as_targets(data[3], xs[1].shape[0], "test")
    if yt.shape[1:] != ye.shape[1:]:
        raise ShapeError(
            "y_train and y_test must have the same number of outputs",
            f"received {yt.shape[1:]} and {ye.shape[1:]}",
            "check the targets",
        )
    return Dataset(xs[0], yt, xs[1], ye)


def make_circles(
    n_samples: int = 100, *, noise: float | None = None, random_state: int = 0, factor: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """Exactly :func:`sklearn.datasets.make_circles` (1.x), without importing scikit-learn.

    Importing ``sklearn.datasets`` costs over a second; the tests check that these
    arrays are bit-identical to scikit-learn's.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    gen = np.random.RandomState(random_state)
    lo = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    li = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.vstack(
        [np.append(np.cos(lo), np.cos(li) * factor), np.append(np.sin(lo), np.sin(li) * factor)]
    ).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    return _shuffle_noise(x, y, gen, noise)


def make_moons(
    n_samples: int = 100, *, noise: float | None = None, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Exactly :func:`sklearn.datasets.make_moons` (1.x), without importing scikit-learn."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    gen = np.random.RandomState(random_state)
    lo, li = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.vstack(
        [np.append(np.cos(lo), 1 - np.cos(li)), np.append(np.sin(lo), 1 - np.sin(li) - 0.5)]
    ).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    return _shuffle_noise(x, y, gen, noise)


def _shuffle_noise(
    x: np.ndarray, y: np.ndarray, gen: np.random.RandomState, noise: float | None
) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(x.shape[0])
    gen.shuffle(idx)  # sklearn.utils.shuffle -> resample(replace=False)
    x, y = x[idx], y[idx]
    if noise is not None:
        x = x + gen.normal(scale=noise, size=x.shape)
    return x, y


def _spec(
    features: Sequence[str],
    stats: tuple[np.ndarray, np.ndarray] | None,
    target: str,
    positive_label: Label | None = None,
) -> TableSpec:
    """A TableSpec; ``stats`` None: the features are used as they are (mean 0, scale 1)."""
    n = len(features)
    mu, sd = stats if stats is not None else (np.zeros(n), np.ones(n))
    return TableSpec(
        tuple(features),
        tuple(float(v) for v in mu),
        tuple(float(v) for v in sd),
        target,
        positive_label,
    )


def _split_half(x: np.ndarray, y: np.ndarray, n_train: int) -> tuple[np.ndarray, ...]:
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@needs_extras("bcelab.train.builtin", TRAINING)
def builtin(name: str, /) -> Dataset:
    """``circles`` (the two-circles tutorial's data), ``moons`` or ``breast-cancer`` (standardised).

    circles: ``make_circles(n_samples=1000, noise=0.1, random_state=1)``, first 500 rows
    train; moons: ``make_moons(n_samples=1000, noise=0.2, random_state=1)``, first 500 rows
    train (features ``x0``, ``x1`` and target ``y`` for predictions); breast-cancer:
    scikit-learn's bundled copy of the Wisconsin data (569 rows, 30 features, target
    ``malignant`` = 1), a fixed shuffled half/half split.
    """
    stats = None
    names: tuple[str, ...] = ("x0", "x1")
    target = "y"
    if name == "circles":
        x, y = make_circles(1000, noise=0.1, random_state=1)
        parts = _split_half(x, y, 500)
        notes: tuple[str, ...] = (
            "make_circles(n_samples=1000, noise=0.1, random_state=1); first 500 rows train",
        )
    elif name == "moons":
        x, y = make_moons(1000, noise=0.2, random_state=1)
        parts = _split_half(x, y, 500)
        notes = ("make_moons(n_samples=1000, noise=0.2, random_state=1); first 500 rows train",)
    elif name == "breast-cancer":
        from sklearn.datasets import load_breast_cancer  # optional, and a second to import

        bunch = load_breast_cancer()
        x = np.asarray(bunch.data, dtype=np.float64)
        y = 1 - np.asarray(bunch.target)  # sklearn: 0 = malignant; here 1 = malignant
        perm = rng.permutations([0], epoch=0, n=x.shape[0])[0]
        n_train = (x.shape[0] + 1) // 2
        xt, yt, xe, ye = _split_half(x[perm], y[perm], n_train)
        xt, xe, stats = standardise(xt, xe, features=bunch.feature_names)
        parts = (xt, yt, xe, ye)
        notes = (
            "load_breast_cancer(); malignant = 1; fixed shuffled split "
            f"{n_train}/{x.shape[0] - n_train}; standardised with training statistics",
        )
        names, target = tuple(str(f) for f in bunch.feature_names), "malignant"
    else:
        raise OptionError(
            f"the built-in data sets are {', '.join(BUILTINS)}",
            f"received {name!r}",
            "or pass your own table: load_table(path, target='column')",
        )
    ds = as_dataset(parts)
    return Dataset(
        ds.x_train,
        ds.y_train,
        ds.x_test,
        ds.y_test,
        name,
        names,
        notes,
        _spec(names, stats, target),
    )


@needs_extras("bcelab.train.load_table", TRAINING)
def load_table(
    path: str | Path,
    /,
    *,
    target: str,
    features: Sequence[str] | None = None,
    test: str | Path | None = None,
    test_fraction: float | None = None,
    dropna: bool = False,
    split_seed: int = 0,
    positive_label: Label | None = None,
    delimiter: str | None = None,
) -> Dataset:
    """A CSV/TSV or Parquet file (and optionally a separate test file) as a standardised Dataset.

    Without ``test`` the rows are shuffled with ``split_seed`` and the last
    ``test_fraction`` of them (default 0.5) become the test split; ``test`` and
    ``test_fraction`` are refused together.  ``positive_label`` (a number or
    text) makes the target column's labels 0/1: that value is 1, every other value 0.
    ``delimiter`` separates the fields of CSV files (default: tab for ``.tsv``, else
    comma).  See :mod:`bcelab.train.tables`.
    """
    hint = "pass the path of a CSV, TSV or Parquet file"
    path = check_path(path, name="path", fname="load_table", hint=hint)
    test = None if test is None else check_path(test, name="test", fname="load_table", hint=hint)
    test_fraction = check_split(test, test_fraction, fname="load_table")
    label = check_positive_label(positive_label, fname="load_table")
    kw: dict[str, Any] = {"target": target, "dropna": dropna, "positive_label": label}
    tab = read_table(path, delimiter=delimiter)
    x, y, names, notes = to_xy(tab, features=features, source=str(path), **kw)
    if test is not None:
        ttab = read_table(test, delimiter=delimiter)
        xe, ye, _, tnotes = to_xy(
            ttab, features=names, source=str(test), label_required=False, **kw
        )
        xt, yt = x, y
        notes = notes + tnotes + (f"test rows from {test}",)
    else:
        perm = rng.permutations([split_seed], epoch=0, n=x.shape[0])[0]
        assert test_fraction is not None  # check_split: a fraction without test=
        n_test = round(test_fraction * x.shape[0])
        n_train = x.shape[0] - n_test
        xt, yt, xe, ye = x[perm[:n_train]], y[perm[:n_train]], x[perm[n_train:]], y[perm[n_train:]]
        notes = (*notes, f"shuffled split (seed {split_seed}): {n_train} train / {n_test} test")
    for split, arr in (("training", xt), ("test", xe)):
        if arr.shape[0] == 0:
            raise DataError(
                f"the {split} split must contain at least one row",
                f"received 0 rows ({count_of(x.shape[0], 'usable row')} in {path})",
                "use more data, or change test_fraction= or test=",
            )
    source = str(test if test is not None else path)
    xt, xe, stats = standardise(xt, xe, features=names, source=source)
    ds = as_dataset((xt, yt, xe, ye))
    notes = (*notes, "features standardised with training statistics")
    spec = _spec(names, stats, target, label)
    return Dataset(
        ds.x_train, ds.y_train, ds.x_test, ds.y_test, Path(path).stem, names, notes, spec
    )
