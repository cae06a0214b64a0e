"""``bcelab explain``: BCE as a function of the prediction for one target, with its minimum."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._core.atomic import save_figure
from .._core.display import exact_digits
from ..errors import OptionError
from ..information import binary_entropy
from ..kernels.dispatch import reference_path
from ..losses import bce, bce_with_logits, sigmoid
from .numbers import number
from .output import check_figure

__all__ = ["VALUE_FLAGS", "Config", "add_arguments", "config_from_args", "curve", "execute", "plot"]

#: flags whose value may start with a minus sign
VALUE_FLAGS = ("--target",)


@dataclass(frozen=True)
class Config:
    target: float
    plot: Path | None = None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", type=number, required=True, help="a target y in [0, 1], e.g. 0.3")
    p.add_argument(
        "--plot",
        default=None,
        metavar="FILE.png",
        help="also draw the curve to this image (.png, .svg, .pdf, ...)",
    )


def config_from_args(ns: argparse.Namespace) -> Config:
    """The typed configuration; each flag is checked here, with a message naming it."""
    if not 0.0 <= ns.target <= 1.0:
        raise OptionError(
            "--target must lie in [0, 1]",
            f"received {ns.target!r}",
            "give a number, e.g. --target 0.3"
            if ns.target != ns.target
            else "divide 0..255 pixel values by 255",
        )
    # checked before any work: a folder the figure can be written to, a known format
    target = ns.target + 0.0  # -0 reads as 0
    return Config(target, None if ns.plot is None else check_figure(ns.plot, "--plot"))


def curve(target: float, n: int = 999) -> tuple[np.ndarray, np.ndarray, float]:
    """Predictions in (0, 1), BCE(p, target) at each, and the floor H(target).

    ``n`` predictions evenly spaced in (0, 1), and beyond them logits out to +-700 (p down
    to 1e-304 and as close to 1): the loss is computed from the logits, so the curve
    climbs at each end as far as the target makes it, instead of stopping at p = 0.001.
    """
    inner = np.linspace(0.0, 1.0, n + 2)[1:-1]
    edge = float(np.log(inner[-1] / inner[0]))  # the logit of the last inner point
    ends = np.linspace(edge, 700.0, 200)[1:]
    x = np.concatenate([-ends[::-1], np.log(inner / (1.0 - inner)), ends])
    y = np.full_like(x, target)
    loss = bce_with_logits(x, y)
    return sigmoid(x), loss, float(binary_entropy(np.array([target]))[0])


def _nats(v: float) -> str:
    """Four decimals, or three significant digits for a floor too small for them (a
    target of 1e-300 has H(y) = 6.9e-298, not 0)."""
    return f"{v:.4f}" if v == 0 or v >= 1e-4 else f"{v:.3g}"


def plot(target: float, path: Path) -> Path:
    # optional dependency (matplotlib, the eval and train extras) and start-up time
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, loss, floor = curve(target)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(p, loss, color="C0", lw=2, label=f"BCE(y = {exact_digits(target)}, p)")
    ax.axhline(floor, color="C1", ls="--", label=f"floor H(y) = {_nats(floor)}")
    ax.plot(
        [target], [floor], "o", color="C3", ms=8, label=f"minimum at p = y = {exact_digits(target)}"
    )
    ax.fill_between(p, floor, loss, color="C0", alpha=0.12, label="excess KL(y‖p)")
    ax.set_ylim(0, max(3.0, floor + 1.0))
    ax.set_xlim(0, 1)
    ax.set_xlabel("prediction p")
    ax.set_ylabel("loss (nats)")
    minimum = "H(y), not 0" if floor > 0 else "H(y) = 0 (a hard target)"
    ax.set_title(
        f"Binary cross-entropy for target y = {exact_digits(target)}: minimum is {minimum}"
    )
    ax.legend(loc="upper center")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def execute(cfg: Config) -> int:
    # the reference formulas: loading the fused kernel (numba, about 0.4 s) for a curve
    # of 999 points would take longer than the rest of the command
    with reference_path():
        return _execute(cfg)


def _execute(cfg: Config) -> int:
    y = cfg.target
    _, _, floor = curve(y)
    grid = sorted({0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, y} - {0.0, 1.0})
    vals = bce(np.array(grid), np.full(len(grid), y))
    print(f"BCE(y = {exact_digits(y)}, p) for a few predictions p:")
    shown = [exact_digits(p) if p == y else f"{p:.4g}" for p in grid]
    width = max(8, *(len(t) for t in shown))
    print(f"{'p':>{width}}  {'BCE':>9}  {'excess':>9}")
    for p, t, v in zip(grid, shown, vals, strict=True):
        mark = "  <- minimum: p = y" if p == y else ""
        print(f"{t:>{width}}  {v:>9.4f}  {v - floor:>9.4f}{mark}")
    print()
    print(
        f"The minimum is at p = y = {exact_digits(y)}, where BCE equals the entropy H(y) = {_nats(floor)} "
        "(the floor)."
    )
    if floor > 0:
        print(
            "It is not 0 because the target itself is uncertain: only the excess above the floor "
            "measures the prediction's error."
        )
    else:
        print("For a hard target the floor is 0: a perfect prediction scores 0.")
    if cfg.plot is not None:
        print(f"figure written to {plot(y, cfg.plot)}")
    return 0
