"""``bcelab loss``: a per-element table of BCE = floor + excess for numbers typed on the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from .._core.display import count_of, decimals_or_exponent, exact_digits, probability_digits
from ..conventions import CONVENTIONS
from ..errors import OptionError
from ..information import binary_entropy, binary_kl, decompose
from ..kernels.dispatch import reference_path
from ..losses import bce, bce_with_logits, sigmoid
from .numbers import number

__all__ = [
    "LIST_FLAGS",
    "VALUE_FLAGS",
    "Config",
    "add_arguments",
    "compute_table",
    "config_from_args",
    "execute",
]

#: flags whose value may start with a minus sign (``--preds -2,3 --logits``, ``--logits -2,3``)
VALUE_FLAGS = ("--preds", "--logits", "--targets", "--label-smoothing")
#: the flags whose value is a comma-separated list
LIST_FLAGS = ("--preds", "--logits", "--targets")
#: the dtype each framework computes the numbers typed here in: the one a list of Python
#: floats becomes there (a Keras or torch tensor: float32; scikit-learn's NumPy array: float64)
INPUT_DTYPES: dict[str, type[np.floating]] = {
    "keras": np.float32,
    "tf_keras": np.float32,
    "torch": np.float32,
    "sklearn": np.float64,
}


@dataclass(frozen=True)
class Config:
    preds: tuple[float, ...]
    targets: tuple[float, ...]
    logits: bool = False
    convention: str = "exact"
    label_smoothing: float = 0.0
    as_json: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preds",
        help="comma-separated probabilities, e.g. 0.9,0.2 (or logits, with --logits alone)",
    )
    p.add_argument(
        "--targets", required=True, help="comma-separated targets in [0, 1], e.g. 0.5,0.3"
    )
    p.add_argument(
        "--logits",
        nargs="?",
        const=True,
        default=False,
        metavar="LOGITS",
        help="comma-separated logits (raw scores), e.g. --logits 2.2,-1.4 (negative values "
        "work); alone, it reads --preds as logits",
    )
    p.add_argument(
        "--convention",
        choices=CONVENTIONS,
        default="exact",
        help="also show the number this library prints (default: exact only); sklearn "
        "takes targets of 0 or 1 and no label smoothing, as scikit-learn does",
    )
    p.add_argument(
        "--label-smoothing",
        type=number,
        default=0.0,
        metavar="S",
        help="smooth each target y to y * (1 - S) + S / 2, as Keras does (default 0)",
    )
    p.add_argument(
        "--json",
        dest="as_json",
        action="store_true",
        help="machine-readable output (strict JSON: NaN and infinities as null)",
    )


def _numbers(text: str, name: str, probabilities: bool = False) -> tuple[float, ...]:
    compact = text.replace(" ", "")
    words = compact.removesuffix(",").split(",") if compact else []
    if "" in words:  # "0.5,,0.3": a value left out would pair the rest with the wrong rows
        raise OptionError(
            f"--{name} must have a number between every two commas",
            f"received {text!r}, with value {words.index('') + 1} empty",
            "write the missing number there, or delete the extra comma",
        )
    try:
        vals = tuple(float(v) for v in words)
    except ValueError:
        raise OptionError(
            f"--{name} must be comma-separated numbers",
            f"received {text!r}",
            f"write e.g. --{name} 0.5,0.3,0.9",
        ) from None
    if not vals:
        raise OptionError(
            f"--{name} needs at least one number", "received none", f"write e.g. --{name} 0.5,0.3"
        )
    if probabilities:
        for word, val in zip(words, vals, strict=True):
            _check_not_rounded(word, val)
    return vals


def _check_not_rounded(word: str, val: float) -> None:
    """A typed probability that float64 rounds to 0 or to 1 is refused with its logit.

    Below 5e-324 a probability reads as 0, and above 1 - 2**-54 (0.99999999999999994) as
    1, whose loss for a target on the other side is inf, not the finite loss typed (a
    logit or a target so near 0 or 1 changes nothing that is shown).
    """
    if val == 0.0 and Decimal(word) > 0:
        side = "closer to 0 than any float64 (the smallest is 5e-324) and would be read as 0"
    elif val == 1.0 and Decimal(word) < 1:
        side = (
            "closer to 1 than any float64 below 1 (the largest is 0.9999999999999999) "
            "and would be read as 1"
        )
    else:
        return
    p = Decimal(word)
    logit = float((p / (1 - p)).ln())  # log(p / (1 - p)) in 28 digits, then a float
    raise OptionError(
        f"--preds: {word} is {side}",
        f"received {word}",
        f"give that prediction as a logit instead: --logits {logit:.6g} for {word}",
    )


def _check_values(
    preds: tuple[float, ...], targets: tuple[float, ...], logits: bool, flag: str
) -> None:
    bad_t = [t for t in targets if not 0.0 <= t <= 1.0]
    if bad_t:
        raise OptionError(
            "--targets must lie in [0, 1]",
            f"received {bad_t[0]!r}" + (f" and {len(bad_t) - 1} more" if len(bad_t) > 1 else ""),
            "leave out a missing (nan) target with its prediction"
            if bad_t[0] != bad_t[0]
            else "divide 0..255 values by 255; write labels -1/1 as 0/1",
        )
    if any(p != p for p in preds):
        raise OptionError(
            f"{flag} must be numbers (logits may be inf or -inf)",
            "received nan",
            "leave out that value",
        )
    bad_p = [p for p in preds if not 0.0 <= p <= 1.0]
    if bad_p and not logits:
        raise OptionError(
            "--preds: probabilities must lie in [0, 1]",
            f"received {bad_p[0]!r}" + (f" and {len(bad_p) - 1} more" if len(bad_p) > 1 else ""),
            "if these are logits (raw scores), pass them as --logits instead of --preds",
        )


def _check_sklearn(targets: tuple[float, ...], label_smoothing: float) -> None:
    """scikit-learn's ``log_loss`` prints no number for soft targets (it raises
    ``ValueError``) and smooths no labels: ``--convention sklearn`` refuses both."""
    soft = [t for t in targets if t not in (0.0, 1.0)]
    if soft:
        raise OptionError(
            "--convention sklearn takes targets of 0 or 1 only: scikit-learn's log_loss "
            "refuses soft targets",
            f"received --targets {exact_digits(soft[0])}"
            + (f" and {len(soft) - 1} more soft targets" if len(soft) > 1 else ""),
            "leave out --convention for the exact table, or compare with --convention keras, "
            "tf_keras or torch, which take soft targets",
        )
    if label_smoothing > 0:
        raise OptionError(
            "--convention sklearn has no label smoothing: scikit-learn's log_loss takes none",
            f"received --label-smoothing {label_smoothing:g}",
            "leave out --label-smoothing, or compare with --convention keras or tf_keras, "
            "which smooth labels the same way",
        )


def _pred_values(ns: argparse.Namespace) -> tuple[tuple[float, ...], bool]:
    """The predictions and whether they are logits: ``--preds X``, ``--preds X --logits``
    or ``--logits X``."""
    given = isinstance(ns.logits, str)
    if given and ns.preds is not None:
        raise OptionError(
            "the predictions go in --preds or in --logits, not both",
            f"received --preds {ns.preds} and --logits {ns.logits}",
            "write --logits 2.2,-1.4 for logits, or --preds 0.9,0.2 for probabilities",
        )
    if not given and ns.preds is None:
        raise OptionError(
            "the predictions are required",
            "received neither --preds nor --logits values",
            "write --preds 0.9,0.2 for probabilities, or --logits 2.2,-1.4 for logits",
        )
    if given:
        return _numbers(ns.logits, "logits"), True
    return _numbers(ns.preds, "preds", probabilities=not ns.logits), bool(ns.logits)


def config_from_args(ns: argparse.Namespace) -> Config:
    """The typed configuration; each flag is checked here, with a message naming it."""
    preds, logits = _pred_values(ns)
    flag = "--logits" if isinstance(ns.logits, str) else "--preds"
    targets = _numbers(ns.targets, "targets")
    if len(targets) != len(preds):
        raise OptionError(
            f"{flag} and --targets must have the same number of values",
            f"received {count_of(len(preds), 'prediction')} and {count_of(len(targets), 'target')}",
            "give one prediction per target",
        )
    _check_values(preds, targets, logits, flag)
    if not 0.0 <= ns.label_smoothing <= 1.0:
        raise OptionError(
            "--label-smoothing must be a number in [0, 1]",
            f"received --label-smoothing {ns.label_smoothing!r}",
            "write e.g. --label-smoothing 0.1",
        )
    if ns.convention == "sklearn":
        _check_sklearn(targets, ns.label_smoothing)
    return Config(
        preds=preds,
        targets=targets,
        logits=logits,
        convention=ns.convention,
        label_smoothing=ns.label_smoothing,
        as_json=ns.as_json,
    )


def compute_table(cfg: Config) -> dict[str, object]:
    """All numbers the command shows, as plain Python values (no printing).

    They come from the reference formulas, as for any list passed to :func:`bcelab.bce`:
    for a few typed numbers, loading the fused kernel (numba) would take about 0.4 s of a
    command that otherwise runs in 0.2 s.
    """
    with reference_path():
        return _table(cfg)


def _table(cfg: Config) -> dict[str, object]:
    y = np.asarray(cfg.targets, dtype=np.float64)
    z = np.asarray(cfg.preds, dtype=np.float64)
    ls = cfg.label_smoothing
    loss_fn = bce_with_logits if cfg.logits else bce
    per = loss_fn(z, y, label_smoothing=ls)
    floor = binary_entropy(y, label_smoothing=ls)
    excess = binary_kl(z, y, logits=cfg.logits, label_smoothing=ls)
    d = decompose(z, y, logits=cfg.logits, label_smoothing=ls)
    probs = sigmoid(z) if cfg.logits else z
    smoothed = y * (1.0 - ls) + 0.5 * ls  # the target the floor and the loss are of
    rows = [
        {  # + 0.0: a zero is printed as 0, never -0
            "target": float(t) + 0.0,
            **({"smoothed_target": float(s) + 0.0} if ls else {}),
            **({"logit": float(x) + 0.0} if cfg.logits else {}),
            "prediction": float(p) + 0.0,
            "bce": float(b) + 0.0,
            "floor": float(f) + 0.0,
            "excess": float(e) + 0.0,
        }
        for t, s, x, p, b, f, e in zip(y, smoothed, z, probs, per, floor, excess, strict=True)
    ]
    out: dict[str, object] = {
        "rows": rows,
        "mean": {"bce": d.bce, "floor": d.floor, "excess": d.excess},
        "logits": cfg.logits,
        "label_smoothing": ls,
    }
    if cfg.convention != "exact":
        dtype = INPUT_DTYPES[cfg.convention]
        with np.errstate(over="ignore"):  # a logit beyond float32 is inf there, as in the library
            z_in = z.astype(dtype)
        per = loss_fn(
            z_in, y.astype(dtype), convention=cfg.convention, reduction="none", label_smoothing=ls
        )
        # the library averages in its own dtype (float32 for Keras and PyTorch)
        shown = dtype(np.mean(per, dtype=per.dtype))
        out["convention"] = {"name": cfg.convention, "mean": float(shown), "printed": str(shown)}
    return out


def _cells(r: dict[str, float]) -> str:
    """The BCE, floor and excess columns of one row of the table."""
    return "  ".join(f"{decimals_or_exponent(r[k], 6):>10}" for k in ("bce", "floor", "excess"))


def _smoothing_lines(cfg: Config, floor: str) -> None:
    """The minimum and the floor under label smoothing: those of the smoothed targets."""
    ls = cfg.label_smoothing
    shown = sorted(set(cfg.targets), reverse=True)[:3]
    pairs = ", ".join(f"{t:.4g} -> {t * (1 - ls) + ls / 2:.4g}" for t in shown)
    more = ", ..." if len(set(cfg.targets)) > 3 else ""
    print(
        f"With --label-smoothing {ls:g} each target y counts as y * (1 - {ls:g}) + {ls / 2:g} "
        f"({pairs}{more}): the minimum is at prediction = that smoothed target, and the "
        f"floor here, {floor}, is the entropy of the smoothed targets, so a perfect "
        f"prediction of them scores {floor}, not 0."
    )
    print(
        "Only the excess (KL divergence) can be trained away; the floor belongs to the "
        "smoothed targets."
    )


def _json_safe(v: object) -> object:
    """``v`` with every NaN and infinity as ``None``: strict JSON, as the ``to_dict()`` of
    the eval results writes it (the text output shows them as inf and nan)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def execute(cfg: Config) -> int:
    res = compute_table(cfg)
    if cfg.as_json:
        json.dump(_json_safe(res), sys.stdout, indent=2, allow_nan=False)
        print()
        return 0
    rows = res["rows"]
    assert isinstance(rows, list)
    mean = res["mean"]
    assert isinstance(mean, dict)
    pred_head = "p = sigmoid(logit)" if cfg.logits else "prediction"
    # inputs with the digits that give them back: a prediction of 0.9999999999999999 is
    # not shown as 1 beside a finite loss for target 0
    ys = [exact_digits(r["target"]) for r in rows]
    ps = [
        probability_digits(r["prediction"]) if cfg.logits else exact_digits(r["prediction"])
        for r in rows
    ]
    wy, wp = max(8, *map(len, ys)), max(18, *map(len, ps))
    print(
        f"{'target':>{wy}}  {pred_head:>{wp}}  {'BCE':>10}  {'floor H(y)':>10}  {'excess KL':>10}"
    )
    for y, p, r in zip(ys, ps, rows, strict=True):
        print(f"{y:>{wy}}  {p:>{wp}}  {_cells(r)}")
    print(f"{'mean':>{wy}}  {'':>{wp}}  {_cells(mean)}")
    print()
    bce, floor, excess = (decimals_or_exponent(mean[k], 4) for k in ("bce", "floor", "excess"))
    print(f"BCE = floor + excess: {bce} = {floor} + {excess}.")
    if cfg.label_smoothing > 0:
        _smoothing_lines(cfg, floor)
    elif mean["floor"] > 0:
        print(
            f"The minimum is at prediction = target; the floor here is {floor}, "
            f"so a perfect prediction scores {floor}, not 0."
        )
        print(
            "Only the excess (KL divergence) can be trained away; the floor is the entropy of "
            "the soft targets themselves."
        )
    else:
        print(
            "The minimum is at prediction = target; these targets are hard (0 or 1), so the "
            "floor is 0 and a perfect prediction scores 0."
        )
    conv = res.get("convention")
    if isinstance(conv, dict):
        # scikit-learn refuses targets of a single class unless told both labels
        one_class = conv["name"] == "sklearn" and len(set(cfg.targets)) == 1
        given = " given labels=[0, 1]" if one_class else ""
        print(
            f"{conv['name']} prints {conv['printed']} for this mean{given} "
            f"(exact: {mean['bce']:.8f}); see `bcelab.conventions` for why it differs."
        )
    return 0
