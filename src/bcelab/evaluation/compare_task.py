"""What a unit task accumulates for :func:`bcelab.evaluation.compare`: paired bootstrap states.

:class:`PairedAccumulator` plugs :class:`bcelab.metrics.PairedBootstrapStats` into the
tasks and engines of :func:`bcelab.evaluate` (:mod:`.tasks`): one state per segment,
both models and every replicate in one pass over the rows.

**Row keys.**  A row's bootstrap weights are a function of (seed, row key, replicate).
With an id column the key is the row's id, so the answer does not depend on the files,
their order or the partitioning.  Without one, the key is (file, row): the file's path
relative to the folder that was passed (its name when the file itself was passed) and
the row's position in that file, so the answer is the same on every run and on every
machine, and does not depend on where the folder lives.

Every sum in the state is an integer, so the state does not depend on the threads of
one ``update`` either: a unit may use several threads (:attr:`PairedAccumulator.threads`)
when there are fewer units than cores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OptionError
from ..metrics import PairedBootstrapStats
from .reader import Batch, Unit
from .tasks import Plan

__all__ = ["MAX_COMPARE_SEGMENTS", "PairedAccumulator", "file_keys"]

#: each segment keeps its own bootstrap state (about 50 MB at 200 replicates)
MAX_COMPARE_SEGMENTS = 64


@dataclass(frozen=True, eq=False)
class PairedAccumulator:
    """One :class:`~bcelab.metrics.PairedBootstrapStats` per segment.

    ``file_keys`` maps each unit's path to its stable file key (used without an id
    column); ``threads`` are the threads of one ``update`` (the state does not depend
    on them).
    """

    replicates: int
    seed: int
    threads: int = 1
    file_keys: Mapping[str, str] = field(default_factory=dict)
    max_segments: int = MAX_COMPARE_SEGMENTS
    exact_merge: bool = True  # integer sums: any merge order gives the same bits

    def empty(self) -> PairedBootstrapStats:
        return PairedBootstrapStats(
            replicates=self.replicates, seed=self.seed, threads=self.threads
        )

    def update(self, state: Any, batch: Batch, rows: np.ndarray | None, plan: Plan) -> None:
        a, b, y, w, ids = batch.pred, batch.pred_b, batch.target, batch.weight, batch.ids
        if rows is not None:
            a, b, y = a[rows], None if b is None else b[rows], y[rows]
            w = None if w is None else w[rows]
            ids = None if ids is None else ids[rows]
        opts: dict[str, Any] = {
            "weights": w,
            "logits": plan.columns.logits,
            "clip": plan.clip,
            "strict": plan.strict,
        }
        if ids is not None:
            state.update(a, b, y, ids=ids, **opts)
            return
        key = self.file_keys[batch.source]
        if rows is None:
            state.update(a, b, y, source_key=key, row_offset=batch.first_row, **opts)
        else:
            state.update(a, b, y, source_key=key, row_index=rows + batch.first_row, **opts)

    def decode(self, data: bytes) -> PairedBootstrapStats:
        return PairedBootstrapStats.from_bytes(data)


def _key(path: Path, sources: Sequence[Path]) -> str:
    """``path`` relative to the folder it was found in, or its name if it was passed."""
    for src in sources:
        if src.is_dir():
            try:
                return path.relative_to(src).as_posix()
            except ValueError:
                continue
        elif path == src:
            return src.name
    return path.name  # pragma: no cover - every unit comes from one of the sources


def file_keys(sources: Sequence[str | Any], units: Sequence[Unit]) -> dict[str, str]:
    """Each unit's path -> its stable file key (see the module docstring).

    Raises :class:`OptionError` when two files would get the same key (two files of
    the same name passed from different folders): their rows would share weights.
    """
    roots = [Path(s).absolute() for s in sources]  # as the units name their files
    keys: dict[str, str] = {}
    owner: dict[str, str] = {}
    for u in units:
        if u.path in keys:
            continue
        key = _key(Path(u.path), roots)
        if key in owner:
            raise OptionError(
                "compare: without id=, rows are keyed by file name and row, so every file "
                "needs its own name (relative to the folder passed)",
                f"{owner[key]} and {u.path} are both keyed as {key!r}",
                "pass id='<the row id column>', rename one of the files, or pass one "
                "folder that holds both (the keys are then their paths relative to it)",
            )
        keys[u.path], owner[key] = key, u.path
    return keys
