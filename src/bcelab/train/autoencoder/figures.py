"""Figures of an autoencoder run, each saved atomically with :func:`bcelab._core.atomic.save_figure`.

* ``reconstructions.png``: test originals (top row) above their reconstructions;
* ``curves.png``: BCE per epoch with the floor drawn as a line, and the excess;
* ``per_pixel_excess.png``: where the reconstruction loses information (mean KL per
  pixel on the test images), next to where the images themselves are uncertain
  (mean entropy per pixel, the floor).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._core.atomic import save_figure

__all__ = ["plot_curves", "plot_per_pixel_excess", "plot_reconstructions"]


def _pyplot() -> Any:
    import matplotlib  # optional dependency, and half a second to import

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _as_display(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(C, H, W) in [0, 1] -> something imshow draws: grey for 1 or 2 channels, else RGB(A)."""
    c = img.shape[0]
    if c in (3, 4):
        return np.clip(np.transpose(img, (1, 2, 0)), 0.0, 1.0), None
    return img.mean(axis=0), "gray"


def plot_reconstructions(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    path: str | os.PathLike[str],
    /,
    *,
    title: str = "Test images (top) and their reconstructions (bottom)",
) -> Path:
    """A 2-row grid: each column is one test image above its reconstruction ``sigmoid(logits)``."""
    plt = _pyplot()
    k = len(originals)
    fig, axes = plt.subplots(2, k, figsize=(max(4.0, 1.1 * k), 2.7), squeeze=False)
    for j in range(k):
        for i, (row, name) in enumerate(
            ((originals, "original"), (reconstructions, "reconstruction"))
        ):
            ax = axes[i][j]
            img, cmap = _as_display(row[j])
            ax.imshow(img, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_curves(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike[str],
    /,
    *,
    loss: str = "bce",
    title: str | None = None,
) -> Path:
    """BCE per epoch with the floor as a line (left) and the excess on a log axis (right).

    ``title`` defaults to one that names the training ``loss``.

    ``history`` maps column names (``epoch``, ``train_bce``, ``test_bce``, ``test_floor``,
    ``train_excess``, ``test_excess``, ``test_excess_fraction``, ...) to per-epoch values.
    """
    plt = _pyplot()
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator  # loaded by _pyplot

    ep = np.asarray(history["epoch"])
    marker = "o" if ep.size == 1 else None  # one epoch: points, which a line alone is not
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    a1.plot(ep, history["train_bce"], color="tab:blue", label="train BCE", marker=marker)
    a1.plot(ep, history["test_bce"], color="tab:orange", label="test BCE", marker=marker)
    floor = float(history["test_floor"][-1])
    a1.axhline(
        floor, color="black", linestyle="--", label=f"floor = mean pixel entropy ({floor:.4f})"
    )
    a1.fill_between(
        ep, floor, history["test_bce"], color="tab:orange", alpha=0.15, label="test excess (KL)"
    )
    a1.set_ylim(0.0, None)
    a1.set_xlabel("epoch")
    a1.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # no epoch 2.5
    a1.set_ylabel("BCE per pixel (nats)")
    a1.set_title("BCE = floor + excess: the floor is where BCE stops")
    a1.legend(loc="best", fontsize=8)  # the place that covers the fewest points
    a1.grid(alpha=0.3)

    a2.plot(ep, history["train_excess"], color="tab:blue", label="train excess", marker=marker)
    a2.plot(ep, history["test_excess"], color="tab:orange", label="test excess", marker=marker)
    excess = np.concatenate([history["train_excess"], history["test_excess"]]).astype(float)
    excess = excess[np.isfinite(excess) & (excess > 0)]
    log_scale = excess.size > 0 and excess.max() >= 2 * excess.min()  # else labels repeat
    if log_scale:
        a2.set_yscale("log")
        a2.yaxis.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 3.0, 5.0)))
        a2.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        a2.yaxis.set_minor_formatter(FormatStrFormatter("%.3g"))
    a2.set_xlabel("epoch")
    a2.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    scale = ", log scale" if log_scale else ""
    a2.set_ylabel(f"excess = mean KL per pixel (nats{scale})")
    if ep.size == 1:  # epoch 1 in the middle, not ticks of 0.02
        for ax in (a1, a2):
            ax.set_xlim(ep[0] - 0.5, ep[0] + 0.5)
            ax.set_xticks([ep[0]])
    frac = float(history["test_excess_fraction"][-1])
    a2.set_title(
        f"Excess: the part training can still reduce\n(final test: {100 * frac:.1f}% of BCE)",
        fontsize=10,
    )
    a2.legend(loc="best", fontsize=8)
    a2.grid(alpha=0.3, which="both")
    fig.suptitle(title or f"Autoencoder trained with loss={loss!r}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_per_pixel_excess(
    kl_map: np.ndarray,
    path: str | os.PathLike[str],
    /,
    *,
    floor_map: np.ndarray | None = None,
) -> Path:
    """Heat map of the mean KL per pixel position on the test set (channels averaged).

    With ``floor_map`` (mean entropy per pixel) the floor is drawn beside it, on its own scale.
    """
    from matplotlib.ticker import MaxNLocator  # loaded by _pyplot

    plt = _pyplot()
    panels = (
        [("floor: mean pixel entropy H(x)", floor_map, "viridis")] if floor_map is not None else []
    )
    panels.append(("excess: mean KL(x || reconstruction)", kl_map, "magma"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for ax, (name, m, cmap) in zip(axes[0], panels, strict=True):
        img = np.asarray(m).mean(axis=0)
        im = ax.imshow(img, cmap=cmap, vmin=0.0, interpolation="nearest")
        ax.set_title(f"{name}\nmean {img.mean():.4f} nats", fontsize=10)
        ax.set_xlabel("pixel column")
        ax.set_ylabel("pixel row")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="nats per pixel")
    note = " (averaged over channels)" if kl_map.shape[0] > 1 else ""
    fig.suptitle(f"Where the reconstruction loses information, test images{note}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
