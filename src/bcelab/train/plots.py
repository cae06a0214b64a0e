"""The tutorial's figure: Loss and Accuracy per epoch, train and test; a band over seeds.

With one seed each curve is that seed's; with several seeds it is the mean over
seeds with a band of ±1 standard deviation.  When the targets are soft the loss
panel also draws the floor :math:`H(y)` as a dashed line, and the second panel
shows the excess :math:`\\mathrm{KL}(y \\| p)` instead of accuracy.

Only ``matplotlib.figure`` and the Agg canvas are imported (not ``pyplot``); the PNG is
written atomically with :func:`bcelab._core.atomic.atomic_open`.

Importing matplotlib still costs about half a second, a sixth of ``bcelab train
circles``.  :func:`start_worker` (called by the CLI before it imports torch) forks a
process that imports matplotlib on the other core while this one imports torch and
trains; :func:`submit_curves` hands it the history and :meth:`PlotJob.wait` collects
the result.  Without ``os.fork``, with torch or matplotlib already imported, or with
``BCELAB_NO_PLOT_WORKER=1`` there is no worker and the figure is drawn in-process, as
it is whenever the worker fails.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import select
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core import config
from .._core.atomic import atomic_open
from .._core.display import count_of

if TYPE_CHECKING:
    from .history import History

__all__ = [
    "PlotJob",
    "curve_panels",
    "draw_series",
    "new_figure",
    "save_curves",
    "start_worker",
    "submit_curves",
    "write_png",
]

_COLORS = {"train": "tab:blue", "test": "tab:orange"}


def new_figure(
    rows: int, cols: int = 1, *, size: tuple[float, float] = (7.0, 7.0)
) -> tuple[Any, Any]:
    """A matplotlib Figure with an Agg canvas and its axes array, without pyplot."""
    # matplotlib: an optional dependency, and half a second to import
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)  # fixed margins: a constrained layout costs ~0.5 s per figure
    FigureCanvasAgg(fig)
    top = 1.0 - 0.75 / size[1]
    axes = fig.subplots(
        rows,
        cols,
        squeeze=False,
        gridspec_kw={
            "left": 0.8 / size[0],
            "right": 1 - 0.25 / size[0],
            "bottom": 0.5 / size[1],
            "top": top,
            "hspace": 1.1 / (size[1] / rows),
            "wspace": 0.3,
        },
    )
    return fig, axes


def write_png(fig: Any, path: str | Path, /, *, dpi: int = 120) -> Path:
    """Save ``fig`` atomically; the format follows the suffix."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=dpi)
    return Path(path)


def draw_series(
    ax: Any, values: np.ndarray, *, label: str, color: str | None = None, style: str = "-"
) -> None:
    """One curve from ``(seeds, epochs)``: the seed itself, or the mean with a ±1 sd band."""
    epochs = np.arange(1, values.shape[1] + 1)
    # a run of one epoch is one point per curve: a line alone would draw nothing
    marker = "o" if values.shape[1] == 1 else None
    if values.shape[0] == 1:
        ax.plot(epochs, values[0], style, color=color, label=label, lw=1.5, marker=marker)
        return
    with np.errstate(invalid="ignore"):  # the sd of values with inf is NaN: no band there
        m, sd = values.mean(axis=0), values.std(axis=0, ddof=1)
    ax.plot(epochs, m, style, color=color, label=f"{label} (mean)", lw=1.5, marker=marker)
    if values.shape[1] == 1:  # a band over one epoch has no width: a bar instead
        n = values.shape[0]
        ax.errorbar(
            epochs, m, yerr=sd, color=color, capsize=4, lw=1, label=f"{label} ±1 sd over {n} seeds"
        )
        return
    ax.fill_between(
        epochs,
        m - sd,
        m + sd,
        color=color,
        alpha=0.25,
        lw=0,
        label=f"{label} ±1 sd over {values.shape[0]} seeds",
    )


def curve_panels(h: History) -> list[tuple[str, str, list[str]]]:
    """``[(title, y label, [metric stems]), ...]`` for the figure."""
    loss_name = str(h.config.get("loss", "bce")).upper()
    panels = [("Loss", f"{loss_name} loss (nats)", ["loss"])]
    if "train_acc" in h.metrics:
        panels.append(("Accuracy", "accuracy (p ≥ 0.5 is class 1)", ["acc"]))
    elif "train_excess" in h.metrics:
        panels.append(("Excess over the floor", "KL(y ‖ p) (nats)", ["excess"]))
    return panels


def save_curves(h: History, path: str | Path, /, *, title: str | None = None) -> Path:
    """Write the figure for ``h`` to ``path`` (PNG by default)."""
    panels = curve_panels(h)
    fig, axes = new_figure(len(panels), 1, size=(7.0, 3.2 * len(panels) + 0.6))
    from matplotlib.ticker import MaxNLocator  # loaded by new_figure

    for ax, (ptitle, ylabel, stems) in zip(axes[:, 0], panels, strict=True):
        for stem in stems:
            for split in ("train", "test"):
                key = f"{split}_{stem}"
                if key in h.metrics and h.metrics[key].shape[1]:
                    draw_series(ax, h.metrics[key], label=split, color=_COLORS[split])
        if stems == ["loss"] and h.config.get("loss", "bce") == "bce":
            for split in ("train", "test"):
                key = f"{split}_floor"
                if key in h.metrics and h.metrics[key].shape[1]:
                    ax.axhline(
                        float(h.metrics[key].mean()),
                        ls="--",
                        lw=1,
                        color=_COLORS[split],
                        label=f"{split} floor H(y)",
                    )
        ax.set_title(ptitle)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # no epoch 2.5
        if h.epochs == 1:  # one point: epoch 1 in the middle, not ticks of 0.1
            ax.set_xlim(0.5, 1.5)
            ax.set_xticks([1])
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    seeds = f"{h.n_seeds} seeds" if h.n_seeds > 1 else f"seed {h.seeds[0]}"
    name = title or str(h.config.get("data", "training run"))
    epochs = count_of(h.epochs, "epoch")
    fig.suptitle(f"{name}: {seeds}, {epochs}", y=1 - 0.12 / fig.get_figheight())
    return write_png(fig, path)


# ---- a forked worker that imports matplotlib while the parent imports torch -----------

_worker: dict[str, int] = {}


def _child(job_r: int, res_w: int) -> None:  # pragma: no cover - runs in the fork
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    msg = b"ok"
    try:
        import matplotlib  # the point of the worker: imported here, in the fork

        matplotlib.use("Agg")
        import matplotlib.backends.backend_agg  # (the worker's imports)
        import matplotlib.figure

        chunks = []
        while chunk := os.read(job_r, 1 << 20):
            chunks.append(chunk)
        if not chunks:  # the parent went away without a job
            os._exit(0)
        h, path, title = pickle.loads(b"".join(chunks))
        save_curves(h, path, title=title)
    except BaseException as e:  # reported to the parent, which then draws in-process
        msg = repr(e).encode()[:4000] or b"error"
    os.write(res_w, msg)
    os._exit(0)


def start_worker() -> bool:
    """Fork the figure worker once per process, if that can help (see the module doc)."""
    if _worker or not hasattr(os, "fork") or not config.plot_worker_enabled():
        return bool(_worker)
    if "torch" in sys.modules or "matplotlib" in sys.modules:
        return False  # threads may exist (fork is unsafe) or nothing is left to gain
    job_r, job_w = os.pipe()
    res_r, res_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(job_w)
        os.close(res_r)
        _child(job_r, res_w)
    os.close(job_r)
    os.close(res_w)
    _worker.update(pid=pid, job_w=job_w, res_r=res_r)
    return True


class PlotJob:
    """A figure being drawn by the worker; :meth:`wait` returns None or the error text."""

    def __init__(self, pid: int, res_r: int) -> None:
        self.pid, self.res_r = pid, res_r

    def wait(self, timeout: float = 300.0) -> str | None:
        try:
            ready, _, _ = select.select([self.res_r], [], [], timeout)
            msg = os.read(self.res_r, 8192) if ready else b"timed out"
        finally:
            os.close(self.res_r)
            if msg != b"ok":
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.waitpid(self.pid, 0)
        return None if msg == b"ok" else (msg.decode(errors="replace") or "no answer")


def submit_curves(h: History, path: str | Path, /, *, title: str | None = None) -> PlotJob | None:
    """Hand the figure to the worker (used once); None when there is none."""
    if not _worker or "pid" not in _worker:
        return None
    w = dict(_worker)
    _worker.clear()
    _worker["used"] = 1
    data = pickle.dumps((dataclasses.replace(h, model_state=None), str(path), title))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(w["job_w"], view) :]
    except OSError:
        pass  # the worker died: wait() reports it and the caller draws in-process
    finally:
        os.close(w["job_w"])
    return PlotJob(w["pid"], w["res_r"])
