"""The two files of a trained predictor, checked against each other: ``predictor.json``
(:func:`read_predictor_json`) and the weights of ``model.pt`` (:func:`check_weights`).

Every field of ``predictor.json`` is checked for its type and its length before use, and
every tensor of ``model.pt`` for the name and shape that the network described by
``predictor.json`` needs (and for finite values), so that a damaged file, or the files of
two runs whose networks differ put together, is a :class:`~bcelab.errors.DataError`
naming the file, the field or tensor, and what it should hold.  ``predictor.json``
records the SHA-256 of the model.pt it was written with (:func:`check_fingerprint`), so
that the files of two runs of the same network are told apart too (files of earlier
versions, without it, are checked by shape alone).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BCELabError, DataError
from .artifacts import MODEL_SHA256, file_sha256
from .data import TableSpec
from .mlp.models import MLPSpec

__all__ = [
    "PREDICTOR_FORMAT",
    "PredictorInfo",
    "check_fingerprint",
    "check_weights",
    "read_predictor_json",
]

PREDICTOR_FORMAT = "bcelab.train.predictor/1"
_HEX = "0123456789abcdef"

_JSON_FIX = (
    "use the predictor.json that bcelab train wrote in that run folder (unchanged), or "
    "train the model again"
)
_PAIR_FIX = (
    "use the model.pt and predictor.json of one run (copy both from the same run folder), "
    "or train the model again"
)

_WEIGHTS_FIX = (
    "train the model again (a run whose loss became NaN or inf has no usable weights), or "
    "restore the model.pt that bcelab train wrote in that run folder"
)


@dataclass(frozen=True)
class PredictorInfo:
    """The content of a checked ``predictor.json``."""

    spec: MLPSpec
    n_inputs: int
    n_outputs: int
    seeds: tuple[int, ...]
    table: TableSpec
    #: the SHA-256 of the run's model.pt (None in the files of earlier versions)
    model_sha256: str | None


def _shown(value: Any) -> str:
    """A JSON value as it stands in the file (cut at 80 characters)."""
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(path: Path, field: str, expected: str, value: Any) -> DataError:
    return DataError(
        f"a predictor.json written by bcelab train, whose {field} is {expected}",
        f"{path} has {field} {_shown(value)}",
        _JSON_FIX,
    )


def _entry(path: Path, d: dict[str, Any], key: str, where: str, expected: str) -> Any:
    if key not in d:
        raise DataError(
            f"a predictor.json written by bcelab train, with {where}{key!r} ({expected})",
            f"{path} has no {where}{key!r} (it has {sorted(d)[:12]})",
            _JSON_FIX,
        )
    return d[key]


def _whole(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and v.is_integer()
    )


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _object(path: Path, d: dict[str, Any], key: str) -> dict[str, Any]:
    value = _entry(path, d, key, "", "a JSON object")
    if not isinstance(value, dict):
        raise _bad(path, repr(key), "a JSON object", value)
    return value


def _count(path: Path, d: dict[str, Any], key: str, what: str) -> int:
    value = _entry(path, d, key, "", what)
    if not (_whole(value) and value >= 1):
        raise _bad(path, repr(key), what, value)
    return int(value)


def _spec(path: Path, model: dict[str, Any]) -> MLPSpec:
    what = "a list of whole numbers >= 1 (the hidden layer sizes)"
    hidden = _entry(path, model, "hidden", "'model' > ", what)
    if not (isinstance(hidden, list) and all(_whole(h) and h >= 1 for h in hidden)):
        raise _bad(path, "'model' > 'hidden'", what, hidden)
    if model.get("kind", "mlp") != "mlp":
        raise _bad(path, "'model' > 'kind'", '"mlp"', model["kind"])
    known = {"kind", "hidden", "hidden_init", "output_init"}
    extra = sorted(set(model) - known)
    if extra:
        raise _bad(path, "'model'", f"an object of the entries {sorted(known)}", model)
    inits = {k: model[k] for k in ("hidden_init", "output_init") if k in model}
    try:
        return MLPSpec(hidden=tuple(int(h) for h in hidden), **inits)
    except BCELabError:  # an initialiser bcelab does not know
        raise _bad(path, "'model'", "an MLP spec of bcelab train", model) from None


def _names(path: Path, value: Any, n: int) -> tuple[str, ...]:
    what = f"a list of {n} distinct column names (the model's {n} inputs)"
    ok = isinstance(value, list) and all(isinstance(f, str) for f in value)
    if not (ok and len(value) == n and len(set(value)) == n):
        raise _bad(path, "'table' > 'features'", what, value)
    return tuple(value)


def _numbers(path: Path, table: dict[str, Any], key: str, n: int) -> tuple[float, ...]:
    what = f"a list of {n} finite numbers (one per feature)"
    if key == "scale":
        what = f"a list of {n} finite numbers > 0 (one per feature)"
    value = _entry(path, table, key, "'table' > ", what)
    ok = isinstance(value, list) and len(value) == n and all(_number(v) for v in value)
    if not ok or (key == "scale" and any(v <= 0 for v in value)):
        raise _bad(path, f"'table' > {key!r}", what, value)
    return tuple(float(v) for v in value)


def _table(path: Path, table: dict[str, Any], n: int) -> TableSpec:
    what = f"a list of {n} distinct column names (the model's {n} inputs)"
    features = _names(path, _entry(path, table, "features", "'table' > ", what), n)
    mean = _numbers(path, table, "mean", n)
    scale = _numbers(path, table, "scale", n)
    target = _entry(path, table, "target", "'table' > ", "a column name")
    if not isinstance(target, str):
        raise _bad(path, "'table' > 'target'", "a column name (text)", target)
    label = table.get("positive_label")
    if not (label is None or isinstance(label, str | bool) or _number(label)):
        raise _bad(path, "'table' > 'positive_label'", "null, text or a number", label)
    return TableSpec(features, mean, scale, target, label)


def read_predictor_json(path: Path, /) -> PredictorInfo:
    """The checked content of the ``predictor.json`` at ``path``."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(
            "a predictor.json written by bcelab train (JSON text)",
            f"reading {path} failed: {e}",
            _JSON_FIX,
        ) from None
    if not isinstance(info, dict):
        raise DataError(
            "a predictor.json written by bcelab train: a JSON object",
            f"{path} holds a JSON {type(info).__name__}: {_shown(info)}",
            _JSON_FIX,
        )
    if info.get("format") != PREDICTOR_FORMAT:
        raise _bad(path, "'format'", json.dumps(PREDICTOR_FORMAT), info.get("format"))
    spec = _spec(path, _object(path, info, "model"))
    n_in = _count(path, info, "n_inputs", "a whole number >= 1 (the number of features)")
    n_out = _count(path, info, "n_outputs", "a whole number >= 1")
    seeds = _entry(path, info, "seeds", "", "a list of whole numbers")
    if not (isinstance(seeds, list) and seeds and all(_whole(s) for s in seeds)):
        raise _bad(path, "'seeds'", "a non-empty list of whole numbers", seeds)
    table = _table(path, _object(path, info, "table"), n_in)
    digest = info.get(MODEL_SHA256)
    if digest is not None and not (
        isinstance(digest, str) and len(digest) == 64 and set(digest) <= set(_HEX)
    ):
        raise _bad(path, repr(MODEL_SHA256), "64 hexadecimal digits (model.pt's SHA-256)", digest)
    return PredictorInfo(spec, n_in, n_out, tuple(int(s) for s in seeds), table, digest)


def check_fingerprint(info: PredictorInfo, weights: Path, meta: Path) -> None:
    """``weights`` is the model.pt that ``info`` (from ``meta``) was written with, when
    ``meta`` records its SHA-256; else a DataError."""
    if info.model_sha256 is None:
        return
    digest = file_sha256(weights)
    if digest != info.model_sha256:
        raise DataError(
            f"the model.pt that {meta} was written with (SHA-256 {info.model_sha256[:12]}...)",
            f"{weights} has SHA-256 {digest[:12]}...: the two files come from different "
            "runs, or model.pt was changed",
            _PAIR_FIX,
        )


def _shape(shape: Any) -> str:
    dims = tuple(int(d) for d in shape)
    return str(dims)


def check_weights(state: Any, info: PredictorInfo, weights: Path, meta: Path) -> None:
    """``state`` (loaded from ``weights``) holds the tensors, of the shapes, of the network
    that ``info`` (from ``meta``) describes; else a DataError naming the first difference."""
    import torch  # optional dependency (bcelab[train])

    lead = () if len(info.seeds) == 1 else (len(info.seeds),)
    need: dict[str, tuple[int, ...]] = {}
    for i, (fi, fo) in enumerate(info.spec.layer_sizes(info.n_inputs, info.n_outputs)):
        need[f"{2 * i}.weight"] = (*lead, fo, fi)
        need[f"{2 * i}.bias"] = (*lead, fo)
    net = (
        f"the network that {meta} describes ({info.n_inputs} inputs, hidden layers "
        f"{list(info.spec.hidden)}, {info.n_outputs} output"
        + (f", {len(info.seeds)} seeds" if lead else "")
        + ")"
    )
    expected = f"a model.pt with the weights of {net}"
    if not isinstance(state, dict):
        got = f"{weights} holds a {type(state).__name__}, not a dict of tensors"
        raise DataError(expected, got, _PAIR_FIX)
    if set(state) != set(need):
        got = f"{weights} holds the tensors {sorted(map(str, state))[:12]}"
        raise DataError(f"{expected}: the tensors {list(need)}", got, _PAIR_FIX)
    for name, shape in need.items():
        t = state[name]
        if not isinstance(t, torch.Tensor):
            got = f"{weights} holds {name} as a {type(t).__name__}, not a tensor"
            raise DataError(expected, got, _PAIR_FIX)
        if tuple(t.shape) != shape:
            got = f"{weights} holds {name} of shape {_shape(t.shape)}"
            raise DataError(f"{expected}: {name} of shape {shape}", got, _PAIR_FIX)
        finite = torch.isfinite(t)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            got = f"{weights} holds {bad} non-finite value(s) (NaN or inf) in {name}"
            raise DataError(f"{expected}: finite values in {name}", got, _WEIGHTS_FIX)
