"""Per-epoch metrics of one split for every seed at once (no per-prediction state is kept).

Values are the core's formulas (:mod:`bcelab.train.objectives`) on float32 logits,
averaged in float64 over every output of every example; ``acc`` is explicit binary
accuracy, ``sigmoid(z) >= 0.5`` counting as class 1 (ties go to class 1; Keras's
``BinaryAccuracy`` sends them to class 0), with every output counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import _math as M
from ..errors import ShapeError
from .objectives import Objective, bce_parts, fast_torch

__all__ = ["MetricFn", "split_metrics", "splits_metrics"]

Tensor = Any
#: ``fn(logits (S, n, ...), targets (S, n, ...)) -> (S,)``: extra metrics passed to ``fit``
MetricFn = Callable[[Tensor, Tensor], Any]


def _expand(z: Tensor, y: Tensor) -> Tensor:
    if tuple(y.shape) == tuple(z.shape):
        return y
    if tuple(y.shape) != tuple(z.shape[1:]):
        raise ShapeError(
            "the model must output one logit per target",
            f"received logits of shape {tuple(z.shape[1:])} for targets of shape {tuple(y.shape)}",
            "make the last layer match the targets",
        )
    return y.unsqueeze(0).expand(z.shape)


def splits_metrics(
    parts: Sequence[tuple[str, Tensor, Tensor, float | None]],
    /,
    *,
    objective: Objective,
    hard: bool,
    extra: Mapping[str, MetricFn] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`split_metrics` of several ``(name, logits, targets, floor)`` parts at once.

    The element-wise formulas run once over all parts side by side (fewer tensor
    operations for small data); each part is then averaged on its own.  Keys are
    ``<name>_<metric>``.
    """
    import torch

    xp = fast_torch()

    zs, ys, bounds = [], [], [0]
    for _, z, y, _ in parts:
        y = _expand(z, y)
        zs.append(z.reshape(z.shape[0], -1))
        ys.append(y.reshape(z.shape[0], -1))
        bounds.append(bounds[-1] + zs[-1].shape[1])
    zc, yc = (zs[0], ys[0]) if len(zs) == 1 else (torch.cat(zs, 1), torch.cat(ys, 1))
    f64 = torch.float64
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        finite = bool(torch.isfinite(zc).all())
        per: dict[str, Tensor] = {"loss": objective.values(zc, yc, finite=finite)}
        if hard:
            per["acc"] = (M.sigmoid(xp, zc) >= 0.5) == (yc >= 0.5)
        if any(p[3] is not None for p in parts):
            per["bce"], per["excess"] = bce_parts(zc, yc, finite=finite)
        for k, (name, z, y, floor) in enumerate(parts):
            lo, hi = bounds[k], bounds[k + 1]
            for m, v in per.items():
                if m in ("bce", "excess") and floor is None:
                    continue
                out[f"{name}_{m}"] = torch.mean(v[:, lo:hi], dim=1, dtype=f64).numpy()
            if floor is not None:
                out[f"{name}_floor"] = np.full(z.shape[0], floor)
            for mname, fn in (extra or {}).items():
                v = fn(z, _expand(z, y))
                out[f"{name}_{mname}"] = np.asarray(
                    v.detach().double().cpu() if hasattr(v, "detach") else v, dtype=np.float64
                ).reshape(z.shape[0])
    return out


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
    res = splits_metrics([("m", z, y, floor)], objective=objective, hard=hard, extra=extra)
    return {k[2:]: v for k, v in res.items()}
