"""Per-epoch metrics of one split for every seed at once (no per-prediction state is kept).

Values are the core's formulas (:mod:`bcelab.train.objectives`) on float32 logits,
averaged in float64 over every output of every example; ``acc`` is explicit binary
accuracy, ``sigmoid(z) >= 0.5`` counting as class 1 (ties go to class 1; Keras's
``BinaryAccuracy`` sends them to class 0), with every output counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import _math as M
from ..errors import ShapeError
from .objectives import Objective, bce_parts

__all__ = ["MetricFn", "split_metrics"]

Tensor = Any
#: ``fn(logits (S, n, ...), targets (S, n, ...)) -> (S,)``: extra metrics passed to ``fit``
MetricFn = Callable[[Tensor, Tensor], Any]


def split_metrics(
    z: Tensor,
    y: Tensor,
    /,
    *,
    objective: Objective,
    hard: bool,
    floor: float | None,
    extra: Mapping[str, MetricFn] | None = None,
) -> dict[str, np.ndarray]:
    """``{"loss", "acc"?, "bce"?, "floor"?, "excess"?, extras...}``, each of shape ``(S,)``.

    ``y`` has the shape of ``z`` or of one seed's slice ``z[0]`` (the same targets for
    every seed, expanded explicitly).  ``floor`` is the split's mean :math:`H(y)`; when
    given, ``bce``, ``floor`` and ``excess`` are reported.
    """
    import torch
    from array_api_compat import torch as xp

    if tuple(y.shape) != tuple(z.shape):
        if tuple(y.shape) != tuple(z.shape[1:]):
            raise ShapeError(
                "the model must output one logit per target",
                f"received logits of shape {tuple(z.shape[1:])} for targets of "
                f"shape {tuple(y.shape)}",
                "make the last layer match the targets",
            )
        y = y.unsqueeze(0).expand(z.shape)
    red = tuple(range(1, z.ndim))
    s = z.shape[0]
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        out["loss"] = torch.mean(objective.values(z, y), dim=red, dtype=torch.float64).numpy()
        if hard:
            p = M.sigmoid(xp, z)
            hit = (p >= 0.5) == (y >= 0.5)
            out["acc"] = torch.mean(hit, dim=red, dtype=torch.float64).numpy()
        if floor is not None:
            b, k = bce_parts(z, y)
            out["bce"] = torch.mean(b, dim=red, dtype=torch.float64).numpy()
            out["floor"] = np.full(s, floor)
            out["excess"] = torch.mean(k, dim=red, dtype=torch.float64).numpy()
        for name, fn in (extra or {}).items():
            v = fn(z, y)
            out[name] = np.asarray(
                v.detach().double().cpu() if hasattr(v, "detach") else v, dtype=np.float64
            ).reshape(s)
    return out
