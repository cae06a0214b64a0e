r"""Recalibration maps: functions from a prediction to a recalibrated probability.

========================  ============================================  ======================
method                    map                                           ``params``
========================  ============================================  ======================
``"platt"``               :math:`q = \sigma(a\,\mathrm{logit}(p) + b)`  ``{"a", "b"}``
``"temperature"``         :math:`q = \sigma(\mathrm{logit}(p) / T)`     ``{"temperature"}``
``"isotonic"``            a non-decreasing step function of p           ``{"edges", "values"}``
``"downsampling"``        :math:`q = p / (p + (1 - p) / W)`             ``{"negative_rate"}``
========================  ============================================  ======================

Platt and temperature scaling are fitted by :mod:`bcelab.metrics.scaling_fit`; the isotonic
map is the PAV fit on the fine histogram of a :class:`~bcelab.metrics.BinaryStats`
(:func:`fit_isotonic`), block k mapping ``edges[k] <= p < edges[k + 1]`` to
``values[k]``.  The downsampling map undoes the keeping of each negative with
probability W: in logits it adds :math:`\log W`.

Every map has ``apply(preds, *, logits=False)`` (NumPy float64 out, same shape; NaN
stays NaN), ``to_dict()`` (JSON-safe, with ``"method"``, ``"version"`` and ``"params"``)
and ``save(path)`` (JSON, never pickle); :func:`load_map` reads either back and checks
it.  A prediction of exactly 0 or 1 (an infinite logit) stays 0 or 1 under Platt with
a > 0, temperature and downsampling: the maps take their limits there.

:func:`reweight_negatives` gives the targets and weights under which an evaluation of
downsampled data counts each negative as 1/W rows.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._core import formulas
from .._core.atomic import write_json
from .._core.display import count_of, counted
from .._core.options import (
    RECALIBRATION_METHODS,
    check_bool,
    check_finite,
    check_instance,
    check_negative_rate,
    check_negative_weight,
    check_path,
)
from .._core.reducing import weight_total_error
from .._core.validate import LOGITS_ADVICE
from ..errors import DataError, DomainError, EmptyReductionError, OptionError, ShapeError
from .inputs import to_numpy
from .isotonic import IsotonicCurve, check_steps, isotonic_curve
from .stats import LOGITS_HINT, BinaryStats

__all__ = [
    "MAP_VERSION",
    "DownsamplingMap",
    "IsotonicMap",
    "PlattMap",
    "RecalibrationMap",
    "TemperatureMap",
    "fit_isotonic",
    "load_map",
    "reweight_negatives",
    "to_logits",
    "to_probabilities",
]

MAP_VERSION = 1


def to_probabilities(preds: object, *, logits: bool, fname: str) -> np.ndarray:
    """Predictions as float64 probabilities (the sigmoid of logits), NaN kept.

    Probabilities outside [0, 1] raise :class:`DomainError`.
    """
    logits = check_bool(logits, name="logits", fname=fname, hint=LOGITS_HINT)
    x = np.asarray(
        to_numpy(preds, name="logits" if logits else "preds", fname=fname, kind="preds"),
        dtype=np.float64,
    )
    if logits:
        return np.asarray(formulas.sigmoid(np, x), dtype=np.float64)
    bad = ~((x >= 0) & (x <= 1)) & ~np.isnan(x)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise DomainError(
            f"{fname}: probabilities must lie in [0, 1]",
            f"{counted(int(bad.sum()), 'value')} outside "
            f"(first: {float(x.ravel()[i])!r} at row {i})",
            f"{LOGITS_ADVICE} pass logits=True; otherwise apply a sigmoid first",
            row=i,
        )
    return x


def to_logits(preds: object, *, logits: bool, fname: str) -> np.ndarray:
    """Predictions as float64 logits: ``log p - log(1 - p)`` (±inf at 0 and 1), NaN kept.

    Probabilities outside [0, 1] raise :class:`DomainError`.
    """
    if check_bool(logits, name="logits", fname=fname, hint=LOGITS_HINT):
        return np.asarray(
            to_numpy(preds, name="logits", fname=fname, kind="preds"), dtype=np.float64
        )
    p = to_probabilities(preds, logits=False, fname=fname)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(p) - np.log1p(-p))


class RecalibrationMap:
    """Base class of the maps: ``apply``, ``params``, ``to_dict``, ``save``."""

    method: ClassVar[str] = ""

    def apply(self, preds: object, *, logits: bool = False) -> np.ndarray:
        """Recalibrated probabilities of ``preds`` (probabilities, or logits)."""
        x = to_logits(preds, logits=logits, fname=f"{type(self).__name__}.apply")
        with np.errstate(invalid="ignore", over="ignore"):
            return self._from_logits(x)

    def _from_logits(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """``{"method", "version", "params"}``, JSON-safe."""
        return {"method": self.method, "version": MAP_VERSION, "params": self.params}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON (atomically); read it back with :func:`load_map`."""
        fname = f"{type(self).__name__}.save"
        where = check_path(path, name="path", fname=fname, hint="pass e.g. 'map.json'")
        if where.is_dir():
            raise OptionError(
                f"{fname}: path must name a file",
                f"received {str(where)!r}, an existing folder",
                f"pass a file name, e.g. {str(where / 'map.json')!r}",
            )
        return write_json(where, self.to_dict())


@dataclass(frozen=True)
class PlattMap(RecalibrationMap):
    """Platt scaling ``q = sigmoid(a * logit(p) + b)``."""

    method: ClassVar[str] = "platt"
    a: float
    b: float

    def __post_init__(self) -> None:
        fix = "pass fitted values (fit_platt gives them), e.g. PlattMap(a=1.0, b=0.0)"
        for name in ("a", "b"):
            v = check_finite(getattr(self, name), name=name, fname="PlattMap", fix=fix)
            object.__setattr__(self, name, v)

    def _from_logits(self, x: np.ndarray) -> np.ndarray:
        t = np.where(np.isinf(x), x * math.copysign(1.0, self.a), self.a * x + self.b)
        if self.a == 0.0:
            t = np.where(np.isnan(x), x, self.b)
        return np.asarray(formulas.sigmoid(np, t), dtype=np.float64)

    @property
    def params(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b}


@dataclass(frozen=True)
class TemperatureMap(RecalibrationMap):
    """Temperature scaling ``q = sigmoid(logit(p) / temperature)``, temperature > 0."""

    method: ClassVar[str] = "temperature"
    temperature: float

    def __post_init__(self) -> None:
        t = check_finite(
            self.temperature,
            name="temperature",
            fname="TemperatureMap",
            fix="pass a fitted temperature (fit_temperature gives one), e.g. 1.5",
            positive=True,
        )
        object.__setattr__(self, "temperature", t)

    def _from_logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(formulas.sigmoid(np, x / self.temperature), dtype=np.float64)

    @property
    def params(self) -> dict[str, Any]:
        return {"temperature": self.temperature}


@dataclass(frozen=True)
class DownsamplingMap(RecalibrationMap):
    """Undo negative downsampling: ``q = p / (p + (1 - p) / negative_rate)``."""

    method: ClassVar[str] = "downsampling"
    negative_rate: float

    def __post_init__(self) -> None:
        rate = check_negative_rate(self.negative_rate, fname="DownsamplingMap")
        object.__setattr__(self, "negative_rate", rate)

    def _from_logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(formulas.sigmoid(np, x + math.log(self.negative_rate)), np.float64)

    def apply(self, preds: object, *, logits: bool = False) -> np.ndarray:
        fname = "DownsamplingMap.apply"
        if check_bool(logits, name="logits", fname=fname, hint=LOGITS_HINT):
            return super().apply(preds, logits=True)
        p = to_probabilities(preds, logits=False, fname=fname)
        pw = p * self.negative_rate  # p / (p + (1 - p) / W), without dividing by a tiny W
        return pw / (pw + (1.0 - p))

    @property
    def params(self) -> dict[str, Any]:
        return {"negative_rate": self.negative_rate}


@dataclass(frozen=True, eq=False)
class IsotonicMap(RecalibrationMap):
    """A non-decreasing step function: ``edges[k] <= p < edges[k + 1]`` maps to ``values[k]``.

    ``edges`` has one value more than ``values``, starts at 0 and ends at 1 (the last
    step includes 1).
    """

    method: ClassVar[str] = "isotonic"
    edges: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        e, v = check_steps(self.edges, self.values)
        object.__setattr__(self, "edges", e)
        object.__setattr__(self, "values", v)

    @classmethod
    def from_curve(cls, curve: IsotonicCurve) -> IsotonicMap:
        hint = "use fit_isotonic(stats), which builds the curve"
        fname, what = "IsotonicMap.from_curve", "an IsotonicCurve"
        check_instance(curve, IsotonicCurve, name="curve", fname=fname, what=what, hint=hint)
        return cls(curve.edges, curve.values)

    def apply(self, preds: object, *, logits: bool = False) -> np.ndarray:
        p = to_probabilities(preds, logits=logits, fname="IsotonicMap.apply")
        idx = np.searchsorted(self.edges[1:-1], p, side="right")
        out = self.values[np.minimum(idx, self.values.size - 1)]
        return np.where(np.isnan(p), np.nan, out)

    @property
    def params(self) -> dict[str, Any]:
        return {"edges": self.edges.tolist(), "values": self.values.tolist()}

    def __repr__(self) -> str:
        return f"IsotonicMap({self.values.size} steps)"


def fit_isotonic(stats: BinaryStats) -> IsotonicMap:
    """The isotonic (PAV) recalibration map fitted on the fine histogram of ``stats``."""
    what = "a bcelab.metrics.BinaryStats"
    hint = "pass BinaryStats().update(preds, targets) of the calibration rows"
    check_instance(stats, BinaryStats, name="stats", fname="fit_isotonic", what=what, hint=hint)
    if not stats.total("w") > 0:
        raise EmptyReductionError(
            "fit_isotonic: a state with at least one row of weight > 0",
            f"received {count_of(stats.rows, 'row')}, total weight {stats.total('w')!r}",
            "update the state with the calibration rows first",
        )
    err = weight_total_error(
        "fit_isotonic",
        stats.total("w"),
        stats.rows_used,
        unchanged="nothing in the map",
        raised=True,
    )
    if err is not None:
        raise err
    h = stats.histogram()
    return IsotonicMap.from_curve(isotonic_curve(h["wpos"], h["wneg"], h["edges"]))


def _map_from_params(method: str, params: Mapping[str, Any]) -> RecalibrationMap:
    def number(key: str) -> float:
        v = params.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise DataError(
                f"a {method} map: params.{key} must be a finite number",
                f"received {key}={v!r}",
                "refit the map, or fix the file",
            )
        return float(v)

    if method == "platt":
        return PlattMap(number("a"), number("b"))
    if method == "temperature":
        t = number("temperature")
        if t <= 0:
            raise DataError(
                "a temperature map: params.temperature > 0",
                f"received temperature={t!r}",
                "refit the map, or fix the file",
            )
        return TemperatureMap(t)
    if method == "downsampling":
        w = number("negative_rate")
        if not 0 < w <= 1:
            raise DataError(
                "a downsampling map: params.negative_rate in (0, 1]",
                f"received negative_rate={w!r}",
                "pass the share of negatives that was kept, e.g. 0.1",
            )
        return DownsamplingMap(w)
    return IsotonicMap(params.get("edges"), params.get("values"))  # type: ignore[arg-type]


def load_map(source: Mapping[str, Any] | str | os.PathLike[str]) -> RecalibrationMap:
    """A map from :meth:`RecalibrationMap.to_dict` or from a JSON file written by ``save``.

    Raises :class:`DataError` naming what was expected, what was found and how to fix
    it when the file cannot be read or the dict is not a valid map.
    """
    if isinstance(source, Mapping):
        d: Any = source
        where = "the dict"
    else:
        path = check_path(
            source,
            name="source",
            fname="load_map",
            hint="pass the path of a map saved with RecalibrationMap.save, or its to_dict()",
        )
        where = str(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(
                "load_map: a readable JSON file written by RecalibrationMap.save",
                f"could not read {where}: {exc}",
                "check the path, or save the map again",
            ) from None
    if not isinstance(d, Mapping) or not isinstance(d.get("params"), Mapping):
        raise DataError(
            'load_map: a JSON object with "method", "version" and "params"',
            f"{where} holds {type(d).__name__}"
            + (f" with keys {sorted(d)}" if isinstance(d, Mapping) else ""),
            "pass a file written by RecalibrationMap.save",
        )
    if d.get("version") != MAP_VERSION:
        raise DataError(
            f"load_map: a map of version {MAP_VERSION}",
            f"{where} has version {d.get('version')!r}",
            "refit and save the map with this version of bcelab",
        )
    method = d.get("method")
    if method not in RECALIBRATION_METHODS:
        raise DataError(
            f"load_map: method must be one of {RECALIBRATION_METHODS}",
            f"{where} has method {method!r}",
            "pass a file written by RecalibrationMap.save",
        )
    return _map_from_params(str(method), d["params"])


def reweight_negatives(
    targets: object, weights: object = None, *, negative_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Targets and weights under which every negative counts ``1 / negative_rate`` times.

    A row with target y and weight w counts w·y of positive mass and
    w·(1 − y)/W of negative mass (W = ``negative_rate``).  As one row of
    :class:`~bcelab.metrics.BinaryStats` this is the weight ``w (y + (1 − y)/W)`` and the
    target ``y / (y + (1 − y)/W)``: hard labels keep their target, and a negative's weight
    is ``w * (1/W)``, exactly an explicit weight column of 1/W.  Rows with an invalid
    target (NaN, outside [0, 1]) are returned unchanged, for the state to count.
    ``negative_rate`` is in (0, 1] with a finite 1/W (W >= 5.6e-309), as on the command line.
    """
    fname = "reweight_negatives"
    rate = check_negative_weight(negative_rate, fname=fname)
    y = np.asarray(to_numpy(targets, name="targets", fname=fname, kind="targets"), np.float64)
    if weights is None:
        w = np.ones_like(y)
    else:
        w = np.asarray(to_numpy(weights, name="weights", fname=fname, kind="weights"), np.float64)
        if w.shape != y.shape:
            raise ShapeError(
                f"{fname}: weights and targets must have the same shape",
                f"received {w.shape} and {y.shape}",
                "reshape one of them explicitly",
            )
    valid = (y >= 0) & (y <= 1)
    with np.errstate(invalid="ignore"):  # invalid targets (inf, NaN) keep factor 1
        factor = np.where(valid, y + (1.0 - y) * (1.0 / rate), 1.0)
        return np.where(valid, y / factor, y), w * factor
