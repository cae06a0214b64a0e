r"""``BinaryStats``: the mergeable, fixed-size state of a binary classifier's evaluation.

The state holds, in float64 with compensated summation (a (hi, lo) pair per sum):

.. math::

    \sum w,\ \sum w^2,\ \sum w y,\ \sum w p,\ \sum w\,\mathrm{BCE}(y, p),\
    \sum w\,H(y),\ \sum w (p - y)^2

int64 counts (rows seen, rows used, NaN predictions, invalid targets, clipped
predictions), the smallest and largest prediction, and the fine histogram of
:mod:`bcelab.metrics.histogram` with :math:`\sum w y`, :math:`\sum w (1 - y)`,
:math:`\sum w p` and the row count per bin.  Its size never depends on the data
(about 660 kB), it never keeps a prediction, and ``a.merge(b)`` equals the state of
all the rows of ``a`` and ``b``.

>>> import numpy as np
>>> s = BinaryStats().update(np.full(10, 0.2), [1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
>>> round(s.compute().ne, 12)   # He et al. 2014: predicting the base rate gives NE = 1
1.0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from .._core.options import check_clip
from ..errors import DomainError, NaNError, OptionError, ShapeError
from . import _reference
from ._convert import to_numpy
from .histogram import LAYOUT_ID, layout
from .serialize import arrays_from_bytes, arrays_to_bytes, check_arrays

__all__ = ["BinaryStats"]

SUM_NAMES = ("w", "w2", "wy", "wp", "wbce", "wh", "wsq")
COUNT_NAMES = ("rows", "used", "nan_pred", "invalid_target", "clipped")


def _kernel() -> Any:
    """The compiled kernel (``scan`` and ``accumulate``): the precompiled loops of
    :mod:`._aot` when they can be had (no numba import), else the numba JIT module;
    None when numba is not installed (NumPy fallback).  Both give identical states."""
    from . import _aot

    k: Any = _aot.loops()
    if k is None:
        try:
            from . import _kernel as k
        except ImportError:  # pragma: no cover - numba is an optional extra
            k = None
    return k


class BinaryStats:
    """Mergeable evaluation state for binary predictions (see the module docstring).

    Args:
        engine: ``"auto"`` (numba kernel when installed, else NumPy), ``"numba"`` or
            ``"numpy"`` (the reference path, built on :mod:`bcelab._core.formulas`).
        n_threads: threads for one ``update`` of 65536 rows or more; 0 (default) means
            ``numba.get_num_threads()`` (every core, or what ``NUMBA_NUM_THREADS`` /
            ``numba.set_num_threads`` say).  Use 1 inside process pools / Dask workers.
    """

    REDUCE_OPS: ClassVar[dict[str, str]] = {
        "sums": "sum",
        "sums_lo": "sum",
        "counts": "sum",
        "pmin": "min",
        "pmax": "max",
        "hist": "sum",
        "hist_n": "sum",
    }

    def __init__(self, *, engine: str = "auto", n_threads: int = 0) -> None:
        if engine not in ("auto", "numba", "numpy"):
            raise OptionError(
                "BinaryStats: engine must be 'auto', 'numba' or 'numpy'",
                f"received {engine!r}",
                "use engine='auto'",
            )
        if engine == "numba" and _kernel() is None:  # pragma: no cover
            raise OptionError(
                "BinaryStats: engine='numba' needs numba",
                "numba is not installed",
                "pip install 'bcelab[fast]'",
            )
        if not isinstance(n_threads, int) or n_threads < 0:
            raise OptionError(
                "BinaryStats: n_threads must be an integer >= 0",
                f"received {n_threads!r}",
                "use 0 (every core) or 1",
            )
        self.engine = engine
        self.n_threads = n_threads
        n_fine = layout().n_fine
        self._a: dict[str, np.ndarray] = {
            "sums": np.zeros(len(SUM_NAMES)),
            "sums_lo": np.zeros(len(SUM_NAMES)),
            "counts": np.zeros(len(COUNT_NAMES), dtype=np.int64),
            "pmin": np.full(1, np.inf),
            "pmax": np.full(1, -np.inf),
            "hist": np.zeros((n_fine, 3)),
            "hist_n": np.zeros(n_fine, dtype=np.int64),
        }

    # --- accessors -------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Rows seen, including the excluded ones."""
        return int(self._a["counts"][0])

    @property
    def rows_used(self) -> int:
        return int(self._a["counts"][1])

    @property
    def is_empty(self) -> bool:
        return self.rows == 0

    def count(self, name: str) -> int:
        """One of the counts: ``rows``, ``used``, ``nan_pred``, ``invalid_target``, ``clipped``."""
        return int(self._a["counts"][COUNT_NAMES.index(name)])

    def total(self, name: str) -> float:
        """One of the compensated sums by name (see ``SUM_NAMES``)."""
        j = SUM_NAMES.index(name)
        return float(self._a["sums"][j] + self._a["sums_lo"][j])

    def __repr__(self) -> str:
        return f"BinaryStats(rows={self.rows}, used={self.rows_used}, weight={self.total('w'):.6g})"

    # --- update ----------------------------------------------------------------------

    def update(
        self,
        preds: object,
        targets: object,
        *,
        weights: object = None,
        logits: bool = False,
        clip: float | None = None,
        strict: bool = False,
    ) -> BinaryStats:
        """Add rows in place; returns ``self``.

        The prediction comes first and the target second (``preds=``/``targets=`` may
        be passed by keyword).  Every element is one row (arrays of any shape, flattened; ``targets``, ``preds``
        and ``weights`` must have the same shape).  Rows with a target outside [0, 1]
        or NaN, or a NaN prediction, are excluded **and counted** (``strict=True``
        raises instead).  Probabilities outside [0, 1] are an error
        (:class:`DomainError`) unless ``logits=True``; ``clip=eps`` clips them to
        ``[eps, 1 - eps]`` and counts the clipped rows.  Weights must be finite and >= 0.
        The state is unchanged when an error is raised.
        """
        fname = "BinaryStats.update"
        if clip is not None and logits:
            raise OptionError(
                f"{fname}: clip applies to probabilities only",
                "received clip together with logits=True",
                "drop clip: the loss from logits is exact without it",
            )
        eps = check_clip(clip, fname=fname) or 0.0
        y = to_numpy(targets, name="targets", fname=fname, kind="targets")
        p = to_numpy(preds, name="logits" if logits else "preds", fname=fname, kind="preds")
        w = (
            None
            if weights is None
            else to_numpy(weights, name="weights", fname=fname, kind="weights")
        )
        for arr, nm in ((y, "targets"), (w, "weights")):
            if arr is not None and arr.shape != p.shape:
                raise ShapeError(
                    f"{fname}: {nm} and preds must have the same shape "
                    "(bcelab never broadcasts them)",
                    f"received {arr.shape} and {p.shape}",
                    "reshape one of them explicitly",
                )
        y, p, w = _common_dtype(y.ravel(), p.ravel(), None if w is None else w.ravel())
        k = _kernel() if self.engine != "numpy" else None
        mod: Any = k if k is not None else _reference
        nt = {"n_threads": self.n_threads} if k is not None else {}
        sc = mod.scan(y, p, w, logits=logits, eps=eps, **nt)
        _raise_for_scan(sc, y, p, w, strict=strict, logits=logits, fname=fname)
        a = self._a
        mm = np.array([a["pmin"][0], a["pmax"][0]])
        if k is not None:
            lay = layout()
            k.accumulate(
                y,
                p,
                w,
                logits=logits,
                eps=eps,
                cut_val=lay.cut_val,
                cut_off=lay.cut_off,
                hist=a["hist"],
                hist_n=a["hist_n"],
                hi=a["sums"],
                lo=a["sums_lo"],
                mm=mm,
                n_threads=self.n_threads,
            )
        else:
            _reference.accumulate(
                y,
                p,
                w,
                logits=logits,
                eps=eps,
                hist=a["hist"],
                hist_n=a["hist_n"],
                hi=a["sums"],
                lo=a["sums_lo"],
                mm=mm,
            )
        a["pmin"][0], a["pmax"][0] = mm
        n = int(y.shape[0])
        a["counts"] += np.array([n, n - int(sc[2]), int(sc[0]), int(sc[1]), int(sc[3])])
        return self

    # --- merging ---------------------------------------------------------------------

    def merge(self, other: BinaryStats) -> BinaryStats:
        """Add the rows of ``other`` to this state, in place; returns ``self``.

        Afterwards ``self`` equals the state of the rows of both; ``other`` is unchanged.
        ``a + b`` returns a new state instead and leaves both unchanged.
        """
        if not isinstance(other, BinaryStats):
            raise OptionError(
                "BinaryStats.merge: other must be a BinaryStats",
                f"received {type(other).__name__}",
                "pass another BinaryStats",
            )
        _merge_into(self._a, other._a)
        return self

    def copy(self) -> BinaryStats:
        """An independent copy with the same rows and options."""
        out = BinaryStats(engine=self.engine, n_threads=self.n_threads)
        out._a = self.to_arrays()
        return out

    def __add__(self, other: object) -> BinaryStats:
        if not isinstance(other, BinaryStats):
            return NotImplemented
        return self.copy().merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BinaryStats):
            return NotImplemented
        return all(np.array_equal(self._a[key], other._a[key]) for key in self._a)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def merge_all(cls, states: Iterable[BinaryStats]) -> BinaryStats:
        """A new state of the rows of all ``states`` (an empty iterable gives an empty state).

        The result takes the options (``engine``, ``n_threads``) of the first state.
        """
        out: BinaryStats | None = None
        for s in states:
            if not isinstance(s, BinaryStats):
                raise OptionError(
                    "BinaryStats.merge_all: every item must be a BinaryStats",
                    f"received {type(s).__name__}",
                    "pass BinaryStats objects",
                )
            if out is None:
                out = s.copy()
            else:
                out.merge(s)
        return cls() if out is None else out

    # --- serialisation ---------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Copies of the state arrays, keyed as in ``REDUCE_OPS``."""
        return {key: v.copy() for key, v in self._a.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> BinaryStats:
        """Rebuild a state from :meth:`to_arrays` (validated; :class:`DataError` if bad)."""
        out = cls()
        out._a = check_arrays(arrays, template=out._a)
        return out

    def to_bytes(self) -> bytes:
        """A versioned binary encoding (no pickle), see :mod:`bcelab.metrics.serialize`."""
        return arrays_to_bytes(self._a, layout_id=LAYOUT_ID)

    @classmethod
    def from_bytes(cls, data: bytes) -> BinaryStats:
        """Decode :meth:`to_bytes`; raises :class:`DataError` on corrupt or foreign bytes."""
        out = cls()
        out._a = check_arrays(arrays_from_bytes(data, layout_id=LAYOUT_ID), template=out._a)
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"engine": self.engine, "n_threads": self.n_threads, "bytes": self.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.engine = state["engine"]
        self.n_threads = state.get("n_threads", 0)
        self._a = BinaryStats.from_bytes(state["bytes"])._a

    # --- metrics ---------------------------------------------------------------------

    def compute(self, *, threshold: float = 0.5, n_calibration_bins: int = 15) -> Any:
        """All metrics (:class:`bcelab.metrics.BinaryMetrics`) from this state."""
        from .compute import compute_metrics

        return compute_metrics(self, threshold=threshold, n_calibration_bins=n_calibration_bins)

    def histogram(self) -> dict[str, np.ndarray]:
        """The fine histogram: ``edges`` (n + 1), ``wpos``, ``wneg``, ``wp`` (n), ``count`` (n)."""
        h = self._a["hist"]
        return {
            "edges": layout().edges.copy(),
            "wpos": h[:, 0].copy(),
            "wneg": h[:, 1].copy(),
            "wp": h[:, 2].copy(),
            "count": self._a["hist_n"].copy(),
        }


def _merge_into(dst: dict[str, np.ndarray], src: dict[str, np.ndarray]) -> None:
    hi, lo = dst["sums"], dst["sums_lo"]
    for j in range(hi.shape[0]):
        v = src["sums"][j]
        t = hi[j] + v
        if np.isfinite(t):
            lo[j] += ((hi[j] - t) + v) if abs(hi[j]) >= abs(v) else ((v - t) + hi[j])
        hi[j] = t
    lo += src["sums_lo"]
    dst["counts"] += src["counts"]
    dst["pmin"][:] = np.minimum(dst["pmin"], src["pmin"])
    dst["pmax"][:] = np.maximum(dst["pmax"], src["pmax"])
    dst["hist"] += src["hist"]
    dst["hist_n"] += src["hist_n"]


def _common_dtype(
    y: np.ndarray, p: np.ndarray, w: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One float dtype for all three (float32 only when every input is float32: lossless)."""
    arrs = [a for a in (y, p, w) if a is not None]
    dt = np.float32 if all(a.dtype == np.float32 for a in arrs) else np.float64

    def c(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=dt)

    return c(y), c(p), None if w is None else c(w)


def _raise_for_scan(
    sc: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    strict: bool,
    logits: bool,
    fname: str,
) -> None:
    pname = "logits" if logits else "preds"
    if sc[6]:
        i = int(sc[7])
        assert w is not None
        raise DomainError(
            f"{fname}: weights must be finite and >= 0",
            f"{int(sc[6])} weights are negative, infinite or NaN "
            f"(first: {float(w[i])!r} at row {i})",
            "fix or drop those rows' weights",
        )
    if sc[4]:
        i = int(sc[5])
        raise DomainError(
            f"{fname}: probabilities must lie in [0, 1]",
            f"{int(sc[4])} values are outside (first: {float(p[i])!r} at row {i})",
            "if these are logits (raw scores), pass logits=True; otherwise apply a sigmoid first",
        )
    if strict and sc[0]:
        i = int(np.flatnonzero(np.isnan(p))[0])
        raise NaNError(
            f"{fname}: {pname} must not contain NaN when strict=True",
            f"found {int(sc[0])} NaN value(s) (first at row {i})",
            "clean the data, or pass strict=False to exclude and count those rows",
        )
    if strict and sc[1]:
        with np.errstate(invalid="ignore"):
            i = int(np.flatnonzero(~((y >= 0) & (y <= 1)))[0])
        raise DomainError(
            f"{fname}: targets must lie in [0, 1] when strict=True",
            f"{int(sc[1])} targets are outside or NaN (first: {float(y[i])!r} at row {i})",
            "map labels like {-1, 1} to {0, 1} with (y + 1) / 2, or pass "
            "strict=False to exclude and count those rows",
        )
