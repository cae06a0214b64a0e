r"""``PairedBootstrapStats``: a mergeable state that compares model A with model B on the same rows.

**Method.**  A paired Poisson bootstrap: in replicate :math:`r` (of ``replicates``),
row :math:`i` has weight :math:`c_{ir} \sim \mathrm{Poisson}(1)`, the same for both
models, drawn from a counter-based generator keyed by (seed, the row's key, r)
(:mod:`bcelab.kernels.bootstrap_rng`).  The key is the row's id, or (source, position)
without ids, so the weights - and the whole state - do not depend on the order of the
rows, the batches, the files, the threads or the Dask partitions.

**State** (fixed size, never a row):

* the point estimate (every weight 1): both models' fine histograms (the layout of
  :mod:`bcelab.metrics.histogram`), the weighted sums and the 21 products of two
  weighted values that the delta method needs, as exact integers;
* per replicate, plus one reference column with every weight 1: both models'
  coarse histograms (:mod:`bcelab.metrics.paired_layout`, 2,576 bins) of
  :math:`\sum c w y`, :math:`\sum c w (1 - y)`, :math:`\sum c w p`, and the sums
  :math:`\sum c w\,\mathrm{BCE}` and :math:`\sum c w (p - y)^2` of each model.

Memory: 2 x 2,576 x 3 x (R + 1) x 2 int64 words, 50 MB for R = 200 (allocated where
written), plus 3.3 MB for the point estimate; ``to_bytes``, ``copy``, ``merge`` and ``==``
read only the bins that hold rows (an empty state is 14 kB of bytes).  Every sum is an integer count of a fixed unit, so ``update``
in any order, ``merge`` and threads give the same bits.  See
:mod:`bcelab.metrics.paired_result` for the intervals and p-values.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = rng.normal(-1.0, 1.5, 5000)
>>> y = (rng.random(5000) < 1 / (1 + np.exp(-s))).astype(float)
>>> a = 1 / (1 + np.exp(-(s + rng.normal(0, 1.0, 5000))))  # model A: a noisy score
>>> b = 1 / (1 + np.exp(-s))  # model B: the true probabilities
>>> st = PairedBootstrapStats(replicates=100, kernel="numpy")
>>> st = st.update(a, b, y, ids=np.arange(5000))
>>> ll = st.compute(metrics=("log_loss", "roc_auc")).metrics["log_loss"]
>>> round(ll["diff"], 4), [round(v, 4) for v in ll["ci"]], round(ll["p_value"], 3)
(-0.0726, [-0.0841, -0.0582], 0.02)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._core.config import default_threads
from .._core.options import (
    check_bool,
    check_clip,
    check_instance,
    check_items,
    check_kernel,
    check_positive_int,
    check_seed,
    check_threads,
)
from ..errors import DataError, OptionError
from ..kernels.bootstrap_rng import seed_mix
from .paired_compute import replicate_metrics
from .paired_engine import accumulate, kernel_module
from .paired_inputs import prepare_batch
from .paired_layout import (
    BINNED,
    BINNED_KEYS,
    COMPACT_LAYOUT_ID,
    KEYED_BY,
    LAYOUT_ID,
    SPLIT,
    carry_point,
    check_state,
    compact_state,
    count_index,
    empty_state,
    expand_state,
    normalize_split,
)
from .paired_result import PairedComparison, check_metrics, compare_state
from .serialize import arrays_from_bytes, arrays_to_bytes
from .stats import LOGITS_HINT, STRICT_HINT

__all__ = ["PairedBootstrapStats"]

FNAME = "PairedBootstrapStats"
_REP_CARRY_ROWS = 1 << 19  # c X_lo < 12 * 2**40 per row: carry before 2**63
_PT_CARRY_ROWS = 1 << 30  # a limb gains < 2**32 + 1 per row
_HI_LIMIT = 1 << 62
_CHECK_HI_ROWS = 1 << 34


class PairedBootstrapStats:
    """Mergeable paired-bootstrap state of two models on the same rows (see the module docstring).

    Args:
        replicates: bootstrap replicates R (each costs about 250 kB of state).
        seed: the generator's seed (an integer in [0, 2**63)).
        kernel: ``"auto"`` (the compiled kernel when numba is installed, else NumPy),
            ``"compiled"`` or ``"numpy"``; both give the same state bit for bit.
        threads: threads for one ``update`` (None: ``BCELAB_THREADS`` or every core);
            the state does not depend on it.
    """

    def __init__(
        self,
        *,
        replicates: int = 200,
        seed: int = 0,
        kernel: str = "auto",
        threads: int | None = None,
    ) -> None:
        n_rep = check_positive_int(replicates, name="replicates", fname=FNAME, example=200)
        self.seed = check_seed(seed, fname=FNAME)
        self.kernel = check_kernel(kernel, fname=FNAME)
        no_numba = self.kernel == "compiled" and kernel_module() is None
        if no_numba:  # pragma: no cover - needs numba absent
            raise OptionError(
                f"{FNAME}: kernel='compiled' needs numba",
                "numba is not installed",
                "pip install 'bcelab[fast]'",
            )
        self.threads = check_threads(threads, fname=FNAME)
        self._a = empty_state(n_rep)
        self._a["meta"][:2] = [n_rep, self.seed]
        self._pending = [0, 0]  # rows since the last carry: replicate words, point limbs

    # --- accessors -------------------------------------------------------------------

    @property
    def replicates(self) -> int:
        return int(self._a["meta"][0])

    @property
    def rows(self) -> int:
        """Rows seen, including the excluded ones."""
        return int(self._a["counts"][0])

    @property
    def keyed_by(self) -> str | None:
        """``"id"`` or ``"file and row"`` once rows were added, else None."""
        return KEYED_BY[int(self._a["meta"][2])] or None

    @property
    def nbytes(self) -> int:
        """Bytes held by the state's arrays."""
        return sum(v.nbytes for v in self._a.values())

    def count(self, name: str) -> int:
        """One of the counts in ``COUNT_NAMES``."""
        return int(self._a["counts"][count_index(name, fname=f"{FNAME}.count")])

    def __repr__(self) -> str:
        return (
            f"PairedBootstrapStats(replicates={self.replicates}, seed={self.seed}, "
            f"rows={self.rows}, keyed_by={self.keyed_by!r})"
        )

    # --- update ----------------------------------------------------------------------

    def update(
        self,
        preds_a: object,
        preds_b: object,
        targets: object,
        *,
        weights: object = None,
        ids: object = None,
        logits: bool = False,
        clip: float | None = None,
        strict: bool = False,
        source_key: object = None,
        row_offset: int | None = None,
        row_index: object = None,
    ) -> PairedBootstrapStats:
        """Add rows in place; returns ``self``.

        Predictions first (model A, then model B), the target after.  Rows are keyed
        by ``ids`` (integers or strings), or else by ``source_key`` (an integer or a
        string such as the file path; default 0) and their position in that source:
        ``row_offset + i`` (default offset: the rows this state has received so far, so
        consecutive batches of one stream are keyed as one batch), or ``row_index``
        (one position per row, e.g. for a segment's rows).  States to be merged need
        ids or distinct source keys.  ``clip=eps`` clips probabilities to
        ``[eps, 1 - eps]``.  The state is unchanged when an error is raised.
        """
        fname = f"{FNAME}.update"
        logits = check_bool(logits, name="logits", fname=fname, hint=LOGITS_HINT)
        strict = check_bool(strict, name="strict", fname=fname, hint=STRICT_HINT)
        if clip is not None and logits:
            raise OptionError(
                f"{FNAME}.update: clip applies to probabilities only",
                "received clip together with logits=True",
                "drop clip: the loss from logits is exact without it",
            )
        eps = check_clip(clip, fname=f"{FNAME}.update") or 0.0
        mode = 1 if ids is not None else 2
        if self.keyed_by is not None and int(self._a["meta"][2]) != mode:
            raise OptionError(
                f"{FNAME}.update: every batch of one state keyed the same way",
                f"this state is keyed by {self.keyed_by}, the batch by {KEYED_BY[mode]}",
                "pass ids for every batch, or for none",
            )
        b = prepare_batch(
            preds_a, preds_b, targets, weights=weights, ids=ids, source_key=source_key,
            row_offset=row_offset, row_index=row_index, default_offset=self.rows,
            logits=logits, eps=eps, strict=strict,
        )  # fmt: skip
        k = None if self.kernel == "numpy" else kernel_module()
        threads = self.threads if self.threads is not None else default_threads()
        weighted = accumulate(
            self._a, b, kernel=k, seed_mixed=seed_mix(self.seed), n_rep=self.replicates,
            logits=logits, eps=eps, threads=threads, on_block=self._before_block,
        )  # fmt: skip
        c = self._a["counts"]
        c[0:2] += b.counts[0:2]
        c[2] += weighted
        c[3:] += b.counts[2:]
        if b.counts[0]:  # an empty batch keys nothing
            self._a["meta"][2] = mode
            self._a["meta"][3] |= ids is None and source_key is None
        return self

    def _before_block(self, rows: int) -> None:
        if self._pending[0] + rows > _REP_CARRY_ROWS:
            self._carry_replicates()
        if self._pending[1] + rows > _PT_CARRY_ROWS:
            self._carry_point()
        self._pending[0] += rows
        self._pending[1] += rows

    def _carry_replicates(self) -> None:
        a = self._a
        lo, hi = a["rep_hist_lo"], a["rep_hist_hi"]
        for m in range(2):
            used = np.flatnonzero(a["rep_bin_rows"][m])  # the bins that hold rows
            sub_lo = lo[m, used]
            if sub_lo.size and int(sub_lo.max()) >> SPLIT:  # read hi only when it changes
                sub_hi = hi[m, used]
                normalize_split(sub_lo, sub_hi)
                lo[m, used], hi[m, used] = sub_lo, sub_hi
        normalize_split(a["rep_sums_lo"], a["rep_sums_hi"])
        # a high word gains < 12 * 2**24 per row: far from 2**62 unless rows are many
        if (
            self.count("weighted") >= _CHECK_HI_ROWS
            and max(int(hi.max(initial=0)), int(a["rep_sums_hi"].max(initial=0))) >= _HI_LIMIT
        ):
            raise DataError(
                f"{FNAME}: replicate sums within the exact range (below 2**70)",
                "received rows whose weighted sums exceed it",
                "divide every weight by the same constant: no metric changes",
            )
        self._pending[0] = 0

    def _carry_point(self) -> None:
        carry_point(self._a)
        self._pending[1] = 0

    def _canonical(self) -> dict[str, np.ndarray]:
        """The arrays in canonical form (every carry done): equal rows give equal bits."""
        if self._pending[0]:
            self._carry_replicates()
        if self._pending[1]:
            self._carry_point()
        return self._a

    # --- merging ---------------------------------------------------------------------

    def merge(self, other: PairedBootstrapStats) -> PairedBootstrapStats:
        """Add the rows of ``other`` (same replicates and seed) in place; returns ``self``."""
        what, f = "a PairedBootstrapStats", f"{FNAME}.merge"
        hint = "pass another PairedBootstrapStats"
        check_instance(other, PairedBootstrapStats, name="other", fname=f, what=what, hint=hint)
        mine, theirs = self._a["meta"], other._a["meta"]
        if (mine[0], mine[1]) != (theirs[0], theirs[1]):
            raise OptionError(
                f"{FNAME}.merge: states with the same replicates and seed",
                f"received replicates={int(theirs[0])}, seed={int(theirs[1])} into "
                f"replicates={int(mine[0])}, seed={int(mine[1])}",
                "build every partial state with the same replicates and seed",
            )
        if mine[2] and theirs[2] and mine[2] != theirs[2]:
            raise OptionError(
                f"{FNAME}.merge: states keyed the same way",
                f"received a state keyed by {KEYED_BY[int(theirs[2])]} into one keyed by {KEYED_BY[int(mine[2])]}",
                "pass ids for every batch, or for none",
            )
        if mine[3] and theirs[3]:
            raise OptionError(
                f"{FNAME}.merge: rows keyed by position need distinct source keys",
                "both states keyed rows by position without a source_key, so their rows "
                "would share bootstrap weights",
                "pass source_key (e.g. the file path) or ids to update",
            )
        a, o = self._canonical(), other._canonical()
        for key in a:
            if key != "meta" and key not in BINNED_KEYS:
                a[key] += o[key]
        # the histograms at the bins of ``other`` that hold rows: the others stay unallocated
        for keys in BINNED.values():
            for m in range(2):
                used = np.flatnonzero(o[keys[0]][m])
                for key in keys:
                    a[key][m, used] += o[key][m, used]
        a["meta"][2] = max(mine[2], theirs[2])
        a["meta"][3] = max(mine[3], theirs[3])
        self._pending = [1, 1]
        return self

    def copy(self) -> PairedBootstrapStats:
        """An independent copy with the same rows and options."""
        out = PairedBootstrapStats._from_compact(compact_state(self._canonical()))
        out.kernel, out.threads = self.kernel, self.threads
        return out

    def __add__(self, other: object) -> PairedBootstrapStats:
        if not isinstance(other, PairedBootstrapStats):
            return NotImplemented
        return self.copy().merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PairedBootstrapStats):
            return NotImplemented
        # the bins that hold rows, as to_bytes: reading every bin of two states would
        # touch (and page in) 100 MB
        a, b = compact_state(self._canonical()), compact_state(other._canonical())
        return all(a[k].shape == b[k].shape and np.array_equal(a[k], b[k]) for k in a)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def merge_all(cls, states: Iterable[PairedBootstrapStats]) -> PairedBootstrapStats:
        """A new state of the rows of all ``states`` (at least one)."""
        out: PairedBootstrapStats | None = None
        fname = f"{FNAME}.merge_all"
        for s in check_items(states, PairedBootstrapStats, name="states", fname=fname):
            out = s.copy() if out is None else out.merge(s)
        if out is None:
            raise OptionError(
                f"{FNAME}.merge_all: at least one state", "received none", "pass the partial states"
            )
        return out

    # --- serialisation ---------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A versioned, checksummed binary encoding (no pickle; :mod:`bcelab.metrics.serialize`)
        of the bins that hold rows: 14 kB for an empty state, at most 53 MB (R = 200)."""
        return arrays_to_bytes(compact_state(self._canonical()), layout_id=COMPACT_LAYOUT_ID)

    @classmethod
    def from_bytes(cls, data: bytes) -> PairedBootstrapStats:
        """Decode :meth:`to_bytes` (also the whole-histogram bytes of earlier versions);
        raises :class:`DataError` on corrupt or foreign bytes."""
        try:
            arrays = arrays_from_bytes(data, layout_id=(COMPACT_LAYOUT_ID, LAYOUT_ID))
        except DataError as e:
            raise DataError(
                f"{FNAME}.from_bytes: bytes written by {FNAME}.to_bytes", e.received, e.fix
            ) from None
        if "pt_bins" not in arrays:  # the whole histograms, as earlier versions wrote them
            check_state(arrays, fname=f"{FNAME}.from_bytes")
            arrays = compact_state(arrays)
        return cls._from_compact(arrays)

    @classmethod
    def _from_compact(cls, compact: dict[str, np.ndarray]) -> PairedBootstrapStats:
        out = cls(replicates=1)
        out._a = expand_state(compact, fname=f"{FNAME}.from_bytes")
        out.seed = int(out._a["meta"][1])
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"kernel": self.kernel, "threads": self.threads, "bytes": self.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = PairedBootstrapStats.from_bytes(state["bytes"])
        self.__dict__.update(other.__dict__)
        self.kernel, self.threads = state["kernel"], state["threads"]

    # --- results ---------------------------------------------------------------------

    def compute(
        self, *, confidence: float = 0.95, metrics: Sequence[str] | None = None
    ) -> PairedComparison:
        """Per metric: A, B, B - A, its bootstrap interval and p-value (see :mod:`.paired_result`).

        ``metrics`` limits the work to some of ``paired_compute.METRICS`` (default: all).
        """
        want = check_metrics(metrics, fname=f"{FNAME}.compute")
        return compare_state(
            self._canonical(), keyed_by=self.keyed_by, confidence=confidence, metrics=want
        )

    def replicate_values(self, metrics: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Per metric, the values of A and B in each replicate (shape ``(2, replicates)``).

        These are the raw replicate values on the coarse histogram (not moved by the
        binning difference that :meth:`compute` removes from the differences).
        """
        want = check_metrics(metrics, fname=f"{FNAME}.replicate_values")
        reps = replicate_metrics(self._canonical(), want)
        return {k: v[:, : self.replicates] for k, v in reps.items()}
