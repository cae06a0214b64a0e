"""Per-epoch metrics of one split for every seed at once (no per-prediction state is kept).

Values are the core's formulas (:mod:`bcelab.train.objectives`) on float32 logits,
averaged in float64 over every output of every example; ``acc`` is explicit binary
accuracy, ``sigmoid(z) >= 0.5`` counting as class 1 (ties go to class 1; Keras's
``BinaryAccuracy`` sends them to class 0), with every output counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import OptionError, ShapeError
from .objectives import Objective, bce_parts

__all__ = ["BUILT_IN", "MetricFn", "check_extra_metrics", "split_metrics", "splits_metrics"]

Tensor = Any
#: ``fn(logits (S, n, ...), targets (S, n, ...)) -> (S,)``: extra metrics passed to ``fit``
MetricFn = Callable[[Tensor, Tensor], Any]

#: the metrics every run reports per split (``train_loss``, ``test_acc``, ...)
BUILT_IN = ("loss", "acc", "bce", "excess", "floor")


def check_extra_metrics(metrics: object, *, fname: str) -> dict[str, MetricFn] | None:
    """``metrics``: None, or a mapping of new names (letters, digits and ``_``; not one of
    :data:`BUILT_IN`, which the extra one would replace) to callables."""
    if metrics is None:
        return None
    hint = "pass e.g. metrics={'mean_logit': lambda z, y: z.mean(dim=(1, 2))}"
    if not isinstance(metrics, Mapping):
        raise OptionError(
            f"{fname}: metrics must map names to functions fn(logits, targets) -> (seeds,)",
            f"received {type(metrics).__name__}",
            hint,
        )
    for name, fn in metrics.items():
        if not (isinstance(name, str) and name.isidentifier()) or name in BUILT_IN:
            raise OptionError(
                f"{fname}: metrics names must be new words of letters, digits and _ "
                f"(not one of the built-in {BUILT_IN}, whose values they would replace)",
                f"received the name {name!r}",
                hint,
            )
        if not callable(fn):
            raise OptionError(
                f"{fname}: metrics[{name!r}] must be a function fn(logits, targets) -> (seeds,)",
                f"received {type(fn).__name__}",
                hint,
            )
    return dict(metrics)


def _extra_values(name: str, value: Any, seeds: int) -> np.ndarray:
    """One float64 per seed from an extra metric's result, or the error that says why not."""
    v = value.detach().double().cpu() if hasattr(value, "detach") else value
    out: np.ndarray | None = None
    if v is not None:
        try:
            out = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):  # text, a dict, ...
            out = None
    if out is None or out.size != seeds or (out.ndim > 1 and out.shape[0] != seeds):
        kind = f"a {type(value).__name__}" if out is None else f"shape {out.shape}"
        raise ShapeError(
            f"metrics[{name!r}] must return one number per seed, shape ({seeds},)",
            f"it returned {kind}",
            "reduce over every axis but the first (the seeds), e.g. z.mean(dim=(1, 2))",
        )
    return out.reshape(seeds)


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
    binary: bool = False,
) -> dict[str, np.ndarray]:
    """:func:`split_metrics` of several ``(name, logits, targets, floor)`` parts at once.

    The element-wise formulas run once over all parts side by side (fewer tensor
    operations for small data); each part is then averaged on its own.  Keys are
    ``<name>_<metric>``.  ``hard`` reports the accuracy; ``binary=True`` promises
    that every target is exactly 0 or 1 (no label smoothing), which lets the bce
    loss take :func:`hard_bce_values` (the same values).
    """
    import torch  # optional dependency (bcelab[train])

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
        # a finite float32 sum means that no logit is inf or NaN (an overflowing sum only
        # sends finite logits down the guarded path, which gives the same values)
        finite = math.isfinite(float(torch.sum(zc)))
        if binary and finite and objective.name == "bce":
            per: dict[str, Tensor] = {"loss": hard_bce_values(zc, yc)}
        else:
            per = {"loss": objective.values(zc, yc, finite=finite)}
        if hard:
            per["acc"] = torch.ge(zc, SIGMOID_HALF_FROM) == (yc >= 0.5)
        if any(p[3] is not None for p in parts):
            per["bce"], per["excess"] = bce_parts(zc, yc, finite=finite)
        # float64 once per metric, each part's mean over its columns (the same reduction
        # as the mean of the part alone); accuracy: an exact count over n
        wide = {m: v if v.dtype == torch.bool else v.to(f64) for m, v in per.items()}
        widths = {bounds[k + 1] - bounds[k] for k in range(len(parts))}
        same = len(widths) == 1  # parts of one width: every part's mean in one reduction
        shape = (zc.shape[0], len(parts), bounds[1])
        means = {m: _means(v.reshape(shape), 2) for m, v in wide.items()} if same else {}
        for k, (name, z, y, floor) in enumerate(parts):
            lo, hi = bounds[k], bounds[k + 1]
            for m, v in wide.items():
                if m in ("bce", "excess") and floor is None:
                    continue
                one = means[m][:, k].copy() if same else _means(v[:, lo:hi], 1)
                out[f"{name}_{m}"] = one
            if floor is not None:
                out[f"{name}_floor"] = np.full(z.shape[0], floor)
            for mname, fn in (extra or {}).items():
                v = fn(z, _expand(z, y))
                out[f"{name}_{mname}"] = _extra_values(mname, v, z.shape[0])
    return out


#: the smallest float32 logit whose :func:`bcelab._core.formulas.sigmoid`, with correctly
#: rounded float32 operations, is >= 0.5 (-2**-25): above it the sigmoid rounds to 0.5 or
#: more, below it to less (checked over every float32 near it in the tests), so
#: ``z >= SIGMOID_HALF_FROM`` is ``sigmoid(z) >= 0.5`` (NaN: False either way) in one
#: comparison instead of the sigmoid's seven operations, and the same on every machine
#: (torch's float32 ``exp`` is 1 ulp off near 0 on some CPUs, which moves its own
#: boundary to about -2.7e-8)
SIGMOID_HALF_FROM = -(2.0**-25)


def hard_bce_values(z: Tensor, y: Tensor) -> Tensor:
    r"""``Objective("bce").values(z, y, finite=True)`` for 0/1 targets and finite logits,
    bit for bit, in fewer operations.

    The core computes :math:`y a + (1 - y) b` with :math:`t = \log(1 + e^{-|z|})`,
    :math:`a = t - \min(z, 0)` and :math:`b = t + \max(z, 0)`.  For :math:`y \in \{0, 1\}`
    one product is an exact 0 and the other an exact copy, so the value is
    :math:`t + \max(s z, 0)` with :math:`s = 1 - 2y` (negation is exact, and
    :math:`\min(z, 0) - \max(z, 0) = -|z|` exactly).  Tested against the core.
    """
    import torch  # optional dependency (bcelab[train])

    t = torch.abs(z).neg_().exp_().log1p_()
    return t.add_(torch.mul(z, torch.rsub(y, 1.0, alpha=2.0)).clamp_min_(0.0))


def _means(v: Tensor, dim: int) -> np.ndarray:
    """Float64 means along ``dim``: of float64 values, or of booleans as an exact count."""
    import torch  # optional dependency (bcelab[train])

    if v.dtype == torch.bool:
        return torch.sum(v, dim=dim).to(torch.float64).div_(v.shape[dim]).cpu().numpy()
    return torch.mean(v, dim=dim).cpu().numpy()


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
