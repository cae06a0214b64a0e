"""What the compiled kernels and their Python drivers agree on: sizes, slots, options.

Importing this module does not import numba (the drivers and :mod:`bcelab.metrics` use
it in processes that may never compile anything).

The slot enums name the places of the small result arrays that the compiled loops
fill: ``totals[LossSlot.INVALID]`` instead of ``totals[4]``.  numba compiles an
``IntEnum`` member as the constant it stands for, so the names cost nothing there.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = [
    "CHUNK",
    "COUNTS_FROM",
    "FOLD_EVERY",
    "INLINE",
    "JIT",
    "LANES",
    "LOSS_BLOCK",
    "NOCT",
    "PARALLEL_MIN",
    "PIECE_CHUNKS",
    "PREFETCH_AHEAD",
    "SIDE",
    "SMALLEST_WEIGHT",
    "STATS_BLOCK",
    "STATS_SERIAL_BELOW",
    "K",
    "LossSlot",
    "ScanSlot",
    "StatsSum",
    "Write",
]

#: numba options of every compiled loop: on-disk cache, no GIL, NumPy's error model.
JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}
#: per-element helpers: inlined into the loop that calls them (numba IR), so they are
#: compiled with that loop's fast-math flags and cost no call
INLINE: dict[str, Any] = {**JIT, "inline": "always"}

#: the smallest positive weight a metric state adds (2**-1022, float64's smallest normal
#: number): a subnormal weight counts as this.  Its products with p, y and the loss would
#: keep only a few digits (0.9 * 1e-320 is 0.9002 * 1e-320), which a bin's mean
#: prediction divides by it; the total weight moves by less than 2**-1022 a row, under an
#: ulp of any total that the metrics accept (a mean weight of at least 2**-970).
SMALLEST_WEIGHT = 2.0**-1022

# --- the loss kernel (kernels.loss, kernels.loss_driver) ---------------------------------

#: Elements per block of the loss kernel: its per-element values go to a small buffer
#: that a SIMD sum adds up, and the one-logarithm block sums of ``kernels.logsum``
#: multiply at most this many factors below 2 (no overflow below 2**1023).
LOSS_BLOCK = 512
#: How far ahead of the block's first element the loss kernel starts asking for its
#: inputs' cache lines (:mod:`bcelab.kernels.prefetch`), one block's worth at the start
#: of each block: a quarter of a block, so the requests for the rest of this block and
#: the start of the next go out together, shortly before their use (on the Intel Xeon
#: machine of ``bench/results/kernel.md``, 5-13% faster than two blocks ahead).
PREFETCH_AHEAD = LOSS_BLOCK // 4
#: Elements per chunk: each chunk's sums land in their own row, added in chunk order.
CHUNK = 1 << 16
#: Below this many elements one thread is faster (thread hand-off costs ~20-40 us).
PARALLEL_MIN = 1 << 18
#: Chunks per piece of work handed to a thread (16 chunks = 1M elements, ~1-3 ms).
PIECE_CHUNKS = 16


class LossSlot(IntEnum):
    """The float64 sums per chunk of the loss kernel."""

    LOSS = 0  # sum of w * loss
    WEIGHT = 1  # sum of w (the element count without weights)
    FLOOR = 2  # sum of w * H(y)
    EXCESS = 3  # sum of w * KL(y || p)
    INVALID = 4  # elements the reference path must handle (NaN, out of range, ...)


class Write:
    """What the loss kernel writes per element into its output array.

    Plain ints, not an ``IntEnum``: they travel through every call of the Python driver
    (a dictionary key, comparisons), where an enum member costs about 0.3 us a call.
    """

    NONE = 0
    GRAD = 1
    LOSS = 2


# --- the metric state kernel (kernels.stats_*) -------------------------------------------

#: Rows per block of the metric kernel.  Not LOSS_BLOCK: the block is the unit of the
#: state's compensated sums (each block's lane sums are added into the (hi, lo) pairs),
#: so changing it would change the last bits of every saved state.
STATS_BLOCK = 1024
#: Partial sums per quantity inside a block (row j goes to lane j % LANES).
LANES = 32
#: Below this many rows an update runs on one thread; above, one thread per half of it.
STATS_SERIAL_BELOW = 1 << 16
#: Rows from which a call's 0/1-label blocks without weights are counted in a scratch of
#: packed bin counts (kernels.stats_scatter): below, its fold would cost more than it saves.
COUNTS_FROM = 1 << 14
#: Rows a scratch of packed counts may take between folds: with a block of 1024 rows on
#: top, each bin holds fewer than 2**26 rows.
FOLD_EVERY = 1 << 25


class StatsSum(IntEnum):
    """The compensated sums of a metric state (``BinaryStats``), in their stored order."""

    W = 0  # sum of w
    W2 = 1  # sum of w**2
    WY = 2  # sum of w * y
    WP = 3  # sum of w * p
    WBCE = 4  # sum of w * loss
    WH = 5  # sum of w * H(y)
    WSQ = 6  # sum of w * (p - y)**2


class ScanSlot(IntEnum):
    """The counts of the validation pass of a metric update (``FIRST_*``: a row, or -1)."""

    NAN_PRED = 0
    INVALID_TARGET = 1
    EXCLUDED = 2
    CLIPPED = 3
    BAD_PROB = 4
    FIRST_BAD_PROB = 5
    BAD_WEIGHT = 6
    FIRST_BAD_WEIGHT = 7


# --- the histogram's base bins, as the compiled binning reads them from p's bits ---------
# (bcelab.metrics.histogram builds the full layout, with its cut points, from these)

#: sub-bins per octave (the compiled binning takes the top 8 mantissa bits: K = 2**8)
K = 256
#: octaves per side (exponents -39 .. -1 of frexp, i.e. values in [2**-41, 2**-1))
NOCT = 40
#: base bins per side (including the under/overflow bin)
SIDE = 1 + NOCT * K
