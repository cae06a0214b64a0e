"""Counter-based random numbers: every seed's stream is a pure function of (seed, purpose, index).

Seed k of a 30-seed batched run must see exactly the numbers of a single run with
seed k, and ``resume=`` must continue the very same shuffles.  Both follow when the
random numbers are a hash of a counter rather than the state of a generator: there
is no generator state to carry, to split or to save; a checkpoint only records the
seeds and the next epoch.  The hash is SplitMix64 (Steele, Lea & Flood 2014), applied
to whole NumPy arrays at once, so S seeds cost one vectorised call, not a loop.

.. math::

    u_{s,t,i} = 2^{-53} \\lfloor \\mathrm{mix}(\\mathrm{mix}(\\mathrm{mix}(s) \\oplus t) + i) / 2^{11}
    \\rfloor

>>> import numpy as np
>>> bool((uniform([7], stream=1, n=5) == uniform([3, 7], stream=1, n=5)[1]).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["INIT_STREAM", "permutations", "permutations_of_epochs", "uniform"]

#: first stream of the weight initialisers (one stream per layer); epochs use streams 0..2^32-1
INIT_STREAM = 1 << 40

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _keys(seeds: Sequence[int], stream: int | Sequence[int], n: int) -> np.ndarray:
    """``(S, n)`` keys, or ``(E, S, n)`` for a sequence of E streams (each the same as
    its own call: the arithmetic is element-wise)."""
    s = np.asarray([int(v) for v in seeds], dtype=np.uint64).reshape(-1, 1)
    t = np.asarray(stream, dtype=np.uint64)
    base = _mix(_mix(s) ^ t.reshape(*t.shape, 1, 1))
    return _mix(base + np.arange(n, dtype=np.uint64).reshape(1, -1))


def uniform(seeds: Sequence[int], /, *, stream: int, n: int) -> np.ndarray:
    """``(len(seeds), n)`` float64 numbers in [0, 1), one independent row per seed."""
    return (_keys(seeds, stream, n) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def permutations(seeds: Sequence[int], /, *, epoch: int, n: int) -> np.ndarray:
    """``(len(seeds), n)`` int64: each row a uniformly random permutation of ``range(n)``.

    Row k depends only on ``(seeds[k], epoch)``.  The lowest ``ceil(log2 n)`` bits of
    each random key are replaced by the element's index, so all keys differ and any
    sort gives the same order (that of a stable sort on the remaining random bits) on
    every platform.  Since the keys carry their indices, sorting the keys themselves
    (NumPy's vectorised sort, several times faster than ``argsort``) and keeping the
    low bits gives exactly the ``argsort``.
    """
    return permutations_of_epochs(seeds, epochs=[int(epoch)], n=n)[0]


def permutations_of_epochs(seeds: Sequence[int], /, *, epochs: Sequence[int], n: int) -> np.ndarray:
    """``(len(epochs), len(seeds), n)``: :func:`permutations` of several epochs at once
    (the same numbers; a few large NumPy calls instead of many small ones)."""
    bits = max(1, (int(n) - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    keys = _keys(seeds, [int(e) for e in epochs], n)
    keys &= ~low
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort(axis=-1)
    keys &= low
    return keys.view(np.int64)
