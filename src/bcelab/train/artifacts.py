"""A run folder: curves.png, history.csv, history.json, model.pt, checkpoint.pt, summary.json.

Each file is written atomically (:mod:`bcelab._core.atomic`); ``summary.json`` is written last,
so a folder with a summary is complete.  ``model.pt`` and ``checkpoint.pt`` hold only
tensors and plain Python values: ``torch.load(path, weights_only=True)`` reads them.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy

from .. import __version__
from .._core.atomic import atomic_open, write_json
from ..errors import DataError
from .history import History
from .plots import submit_curves

__all__ = ["load_checkpoint", "save_torch", "summary_dict", "versions", "write_run"]


def versions() -> dict[str, str]:
    """Versions of Python, bcelab, numpy and torch (for summary.json)."""
    import torch  # optional dependency (bcelab[train])

    return {
        "python": platform.python_version(),
        "bcelab": __version__,
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def save_torch(obj: Any, path: str | Path, /) -> Path:
    """``torch.save`` through an atomic temporary file."""
    import torch  # optional dependency (bcelab[train])

    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)
    return Path(path)


def load_checkpoint(run: str | Path | Mapping[str, Any], /) -> dict[str, Any]:
    """The checkpoint of a run folder (or a ``checkpoint.pt`` path), loaded with weights_only.

    A mapping (a checkpoint already loaded) is returned as a plain dict.
    """
    import torch  # optional dependency (bcelab[train])

    if isinstance(run, Mapping):
        return dict(run)
    p = Path(run)
    f = p / "checkpoint.pt" if p.is_dir() else p
    if not f.is_file():
        raise DataError(
            "resume= needs a run folder that contains checkpoint.pt",
            f"received {str(p)!r}, where {f.name} does not exist",
            "pass the out= folder of an earlier run",
        )
    try:
        ck = torch.load(f, weights_only=True)
    except Exception as e:
        raise DataError(
            "a checkpoint.pt written by bcelab train",
            f"reading {f} failed: {e}",
            "the file is damaged; start a new run",
        ) from None
    if not (isinstance(ck, dict) and ck.get("format") == "bcelab.train.checkpoint/1"):
        raise DataError(
            "a checkpoint.pt written by bcelab train",
            f"{f} is not one (format {ck.get('format') if isinstance(ck, dict) else '?'})",
            "pass the out= folder of an earlier training run",
        )
    return ck


def summary_dict(history: History, *, run_info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The content of summary.json."""
    return {
        "config": history.config,
        "seeds": history.seeds,
        "epochs_completed": history.epochs,
        "final": history.summary(),
        "train_time_s": history.train_time,
        "interrupted": history.interrupted,
        "stop_reason": history.stop_reason,
        "versions": versions(),
        "argv": list(sys.argv),
        **dict(run_info or {}),
    }


def write_run(
    out: str | Path,
    history: History,
    /,
    *,
    model_state: Mapping[str, Any] | None,
    checkpoint: Mapping[str, Any] | None = None,
    run_info: Mapping[str, Any] | None = None,
    diverged: bool = False,
    figure: bool = True,
) -> dict[str, Path]:
    """Write every artifact of a run into ``out``; returns name -> path."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["history.csv"] = history.to_csv(d / "history.csv")
    paths["history.json"] = history.to_json(d / "history.json")
    job = None
    if figure and history.epochs:
        job = submit_curves(history, d / "curves.png")  # drawn by the worker meanwhile
        if job is None:
            paths["curves.png"] = history.plot(d / "curves.png")
    if model_state is not None and not diverged:
        paths["model.pt"] = save_torch(dict(model_state), d / "model.pt")
    if checkpoint is not None and not diverged:
        paths["checkpoint.pt"] = save_torch(dict(checkpoint), d / "checkpoint.pt")
    if job is not None:
        if job.wait() is not None:  # the worker failed: draw it here
            history.plot(d / "curves.png")
        paths["curves.png"] = d / "curves.png"
    paths["summary.json"] = write_json(d / "summary.json", summary_dict(history, run_info=run_info))
    return paths
