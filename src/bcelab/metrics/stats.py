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

from .._core.options import (
    check_bool,
    check_choice,
    check_clip,
    check_instance,
    check_items,
    check_kernel,
    check_threads,
)
from ..errors import OptionError
from ..kernels import stats_driver
from ..kernels.constants import StatsSum
from . import reference
from .compute import compute_metrics
from .histogram import LAYOUT_ID, layout
from .inputs import Rows, flat_rows, raise_for_counts
from .result import BinaryMetrics
from .serialize import arrays_from_bytes, arrays_to_bytes, check_arrays

__all__ = ["BinaryStats"]

SUM_NAMES = tuple(s.name.lower() for s in StatsSum)
COUNT_NAMES = ("rows", "used", "nan_pred", "invalid_target", "clipped")
LOGITS_HINT = "pass logits=True for raw scores (logits), logits=False for probabilities"
STRICT_HINT = "pass strict=True to raise on excluded rows, strict=False to count them"


class BinaryStats:
    """Mergeable evaluation state for binary predictions (see the module docstring).

    Args:
        kernel: ``"auto"`` (the compiled loops when numba or their precompiled build is
            there, else NumPy), ``"compiled"`` or ``"numpy"`` (the reference path, built
            on :mod:`bcelab._core.formulas`).  Both give the same counts and bins, and
            sums equal to about 1e-13.
        threads: threads for one ``update`` of 65536 rows or more: None (default) means
            ``BCELAB_THREADS``, else every core this process may use; else an integer
            >= 1.  Where the rows are split changes the last bits of the sums: use 1
            inside process pools / Dask workers, or for results independent of the machine.
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

    def __init__(self, *, kernel: str = "auto", threads: int | None = None) -> None:
        fname = "BinaryStats"
        self.kernel = check_kernel(kernel, fname=fname)
        self.threads = check_threads(threads, fname=fname)
        if kernel == "compiled" and stats_driver.compiled_loops() is None:  # pragma: no cover
            raise OptionError(
                f"{fname}: kernel='compiled' needs numba",
                "numba is not installed",
                "pip install 'bcelab[fast]', or use kernel='auto'",
            )
        n_fine = layout().n_fine
        # The histogram is written with zeros (np.full), not left to np.zeros' untouched
        # pages: the kernel reads a bin before it writes it, and a page first read and then
        # written faults twice, the second time with a TLB flush on every core the process
        # runs on (one state per segment per unit made that most of a `--by` run's time).
        self._a: dict[str, np.ndarray] = {
            "sums": np.zeros(len(SUM_NAMES)),
            "sums_lo": np.zeros(len(SUM_NAMES)),
            "counts": np.zeros(len(COUNT_NAMES), dtype=np.int64),
            "pmin": np.full(1, np.inf),
            "pmax": np.full(1, -np.inf),
            "hist": np.full((n_fine, 3), 0.0),
            "hist_n": np.full(n_fine, 0, dtype=np.int64),
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
        name = check_choice(
            name, COUNT_NAMES, name="name", fname="BinaryStats.count", hint="pass e.g. 'used'"
        )
        return int(self._a["counts"][COUNT_NAMES.index(name)])

    def total(self, name: str) -> float:
        """One of the compensated sums by name (see ``SUM_NAMES``)."""
        name = check_choice(
            name, SUM_NAMES, name="name", fname="BinaryStats.total", hint="pass e.g. 'w'"
        )
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
        be passed by keyword).  Every element is one row (arrays of any shape,
        flattened; ``targets``, ``preds`` and ``weights`` must have the same shape).
        Rows with a target outside [0, 1] or NaN, or a NaN prediction, are excluded
        **and counted** (``strict=True`` raises instead).  Probabilities outside [0, 1]
        are an error (:class:`DomainError`) unless ``logits=True``; ``clip=eps`` clips
        them to ``[eps, 1 - eps]`` and counts the clipped rows.  Weights must be finite
        and >= 0.  The state is unchanged when an error is raised.
        """
        fname = "BinaryStats.update"
        logits = check_bool(logits, name="logits", fname=fname, hint=LOGITS_HINT)
        strict = check_bool(strict, name="strict", fname=fname, hint=STRICT_HINT)
        if clip is not None and logits:
            raise OptionError(
                f"{fname}: clip applies to probabilities only",
                "received clip together with logits=True",
                "drop clip: the loss from logits is exact without it",
            )
        eps = check_clip(clip, fname=fname) or 0.0
        rows = flat_rows(preds, targets, weights, logits=logits, fname=fname)
        y, p, w = rows
        loops = stats_driver.compiled_loops() if self.kernel != "numpy" else None
        # rows that need no counting (0/1 labels, no NaN, no weights) are added in one
        # pass, without the validation pass; any other rows are validated first
        if loops is not None and self._accumulate(loops, rows, logits=logits, eps=eps, clean=True):
            counts = stats_driver.NO_COUNTS
        else:
            if loops is not None:
                counts = stats_driver.scan(
                    loops, y, p, w, logits=logits, eps=eps, threads=self.threads
                )
            else:
                counts = reference.scan(y, p, w, logits=logits, eps=eps)
            raise_for_counts(counts, rows, strict=strict, logits=logits, fname=fname)
            self._accumulate(loops, rows, logits=logits, eps=eps)
        n = int(y.shape[0])
        used = n - counts.excluded
        new = [n, used, counts.nan_pred, counts.invalid_target, counts.clipped]
        self._a["counts"] += np.array(new)  # in COUNT_NAMES order
        return self

    def _accumulate(
        self, loops: Any, rows: Rows, *, logits: bool, eps: float, clean: bool = False
    ) -> bool:
        """Add validated rows to the state arrays (``loops``: compiled, or None: NumPy);
        ``clean``: rows not validated, added only if they need no counting (see
        :func:`bcelab.kernels.stats_driver.accumulate`).  Whether they were added."""
        a = self._a
        mm = np.array([a["pmin"][0], a["pmax"][0]])
        state = {"hist": a["hist"], "hist_n": a["hist_n"], "hi": a["sums"], "lo": a["sums_lo"]}
        if loops is not None:
            lay = layout()
            added = stats_driver.accumulate(
                loops,
                *rows,
                logits=logits,
                eps=eps,
                cut_val=lay.cut_val,
                cut_off=lay.cut_off,
                mm=mm,
                threads=self.threads,
                clean_only=clean,
                **state,
            )
            if not added:
                return False
        else:
            reference.accumulate(*rows, logits=logits, eps=eps, mm=mm, **state)
        a["pmin"][0], a["pmax"][0] = mm
        return True

    # --- merging ---------------------------------------------------------------------

    def merge(self, other: BinaryStats) -> BinaryStats:
        """Add the rows of ``other`` to this state, in place; returns ``self``.

        Afterwards ``self`` equals the state of the rows of both; ``other`` is unchanged.
        ``a + b`` returns a new state instead and leaves both unchanged.
        """
        what, hint = "a BinaryStats", "pass another BinaryStats"
        check_instance(
            other, BinaryStats, name="other", fname="BinaryStats.merge", what=what, hint=hint
        )
        _merge_into(self._a, other._a)
        return self

    def copy(self) -> BinaryStats:
        """An independent copy with the same rows and options."""
        out = BinaryStats(kernel=self.kernel, threads=self.threads)
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

        The result takes the options (``kernel``, ``threads``) of the first state.
        """
        out: BinaryStats | None = None
        for s in check_items(states, BinaryStats, name="states", fname="BinaryStats.merge_all"):
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
        return {"kernel": self.kernel, "threads": self.threads, "bytes": self.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.kernel = state.get("kernel", "auto")
        self.threads = state.get("threads")
        self._a = BinaryStats.from_bytes(state["bytes"])._a

    # --- metrics ---------------------------------------------------------------------

    def compute(self, *, threshold: float = 0.5, n_calibration_bins: int = 15) -> BinaryMetrics:
        """All metrics (:class:`bcelab.metrics.BinaryMetrics`) from this state."""
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
