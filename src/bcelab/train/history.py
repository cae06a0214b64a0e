"""What a training run produced: per-epoch metrics per seed, final metrics, and how it ended.

Metric names are ``<split>_<metric>`` with split ``train`` or ``test``:

* ``loss``: the objective (BCE by default) as a mean over every output;
* ``acc``: binary accuracy when the targets are 0/1 labels, a probability
  :math:`\\sigma(z) \\ge 0.5` counting as class 1 (ties go to class 1), every output counted;
* ``bce``, ``floor``, ``excess``: when the targets are soft (or the objective is not
  BCE), :math:`\\mathrm{BCE} = H(y) + \\mathrm{KL}(y \\| p)` with the floor ``H(y)``
  and the excess ``KL``;
* anything else that was passed to :func:`~bcelab.train.fit` as ``metrics=``.

``train_*`` per epoch are running values during the epoch (Keras's ``history``: each
batch's logits before its update, a batch-size-weighted mean); ``test_*`` are computed
after the epoch.  ``final`` holds both splits evaluated after training (Keras's
``model.evaluate``), which is what the tutorial's ``Train: ..., Test: ...`` line prints.
Every array has one row per seed.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._core.atomic import write_json, write_text
from .._core.display import count_of
from .._core.extras import TRAINING, needs_extras
from .._core.options import check_choice, check_path
from ..errors import DataError, OptionError
from .plots import save_curves
from .stats import summarise

__all__ = ["History", "history_html", "load_history"]


_PATH_HINT = "pass a path (a str or a pathlib.Path)"


@dataclass
class History:
    """Per-epoch ``metrics[name]`` of shape ``(seeds, epochs)`` and ``final[name]`` of shape ``(seeds,)``."""

    seeds: list[int]
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    final: dict[str, np.ndarray] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    train_time: float = 0.0
    interrupted: bool = False
    stop_reason: str | None = None
    #: the final weights as a state_dict (see :func:`bcelab.train.models.state_dict`)
    model_state: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return next((int(v.shape[1]) for v in self.metrics.values()), 0)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.metrics[name]

    def _known(self, name: object, fname: str) -> str:
        return check_choice(
            name, tuple(self.metrics), name="name", fname=fname, hint="pass e.g. 'test_loss'"
        )

    def mean(self, name: str, /) -> np.ndarray:
        """Mean over seeds, per epoch."""
        return np.asarray(self.metrics[self._known(name, "History.mean")].mean(axis=0))

    def append(self, values: dict[str, np.ndarray]) -> None:
        """Add one epoch: ``values[name]`` has one entry per seed, for the same names as
        the epochs before it."""
        f, hint = "History.append", "pass {name: one value per seed} for every metric"
        if not isinstance(values, Mapping):
            raise OptionError(
                f"{f}: values must be a dict of metrics", f"received {type(values).__name__}", hint
            )
        try:
            cols = {k: np.asarray(v, dtype=np.float64).reshape(-1, 1) for k, v in values.items()}
        except (TypeError, ValueError) as e:
            raise OptionError(f"{f}: numbers for every metric", f"received {e}", hint) from None
        if self.metrics and set(cols) != set(self.metrics):
            raise OptionError(
                f"{f}: the metrics of the epochs before, {sorted(self.metrics)}",
                f"received {sorted(cols)}",
                hint,
            )
        if any(c.shape[0] != self.n_seeds for c in cols.values()):
            shapes = {k: c.shape[0] for k, c in cols.items()}
            raise OptionError(
                f"{f}: one value per seed ({self.n_seeds}) for each metric",
                f"received {shapes}",
                hint,
            )
        new = dict(self.metrics)
        for k, col in cols.items():
            new[k] = col if k not in new else np.hstack([new[k], col])
        self.metrics = new  # one assignment: a Ctrl-C never leaves a half-added epoch

    def summary(self) -> dict[str, Any]:
        """Mean, sd and 95% CI over seeds of each final metric (``final`` if set, else last epoch)."""
        src = self.final or {k: v[:, -1] for k, v in self.metrics.items() if v.shape[1]}
        return {k: summarise(v) for k, v in src.items()}

    # ---- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "epochs": self.epochs,
            "metrics": {k: v.tolist() for k, v in self.metrics.items()},
            "final": {k: np.asarray(v).tolist() for k, v in self.final.items()},
            "summary": self.summary(),
            "config": self.config,
            "train_time_s": self.train_time,
            "interrupted": self.interrupted,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        try:
            return cls._from_dict(d)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise DataError(
                "History.from_dict: a dict from History.to_dict (seeds, metrics, ...)",
                f"received one it cannot read ({type(e).__name__}: {e})",
                "pass the dict that to_dict returned, or load_history(run_folder)",
            ) from None

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> History:
        return cls(
            seeds=[int(s) for s in d["seeds"]],
            metrics={
                k: np.asarray(v, dtype=np.float64).reshape(len(d["seeds"]), -1)
                for k, v in d["metrics"].items()
            },
            final={k: np.asarray(v, dtype=np.float64) for k, v in d.get("final", {}).items()},
            config=dict(d.get("config", {})),
            train_time=float(d.get("train_time_s", 0.0)),
            interrupted=bool(d.get("interrupted", False)),
            stop_reason=d.get("stop_reason"),
        )

    def csv_text(self) -> str:
        """One row per epoch; with several seeds each metric has ``_mean`` and ``_sd`` columns."""
        names = list(self.metrics)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if self.n_seeds == 1:
            w.writerow(["epoch", *names])
            for e in range(self.epochs):
                w.writerow([e + 1, *(repr(float(self.metrics[k][0, e])) for k in names)])
        else:
            w.writerow(["epoch", *(f"{k}_{s}" for k in names for s in ("mean", "sd"))])
            for e in range(self.epochs):
                row: list[object] = [e + 1]
                for k in names:
                    col = self.metrics[k][:, e]
                    with np.errstate(invalid="ignore"):  # the sd of values with inf is NaN
                        row += [repr(float(col.mean())), repr(float(col.std(ddof=1)))]
                w.writerow(row)
        return buf.getvalue()

    def to_csv(self, path: str | Path, /) -> Path:
        where = check_path(path, name="path", fname="History.to_csv", hint=_PATH_HINT)
        return write_text(where, self.csv_text())

    def to_json(self, path: str | Path, /) -> Path:
        where = check_path(path, name="path", fname="History.to_json", hint=_PATH_HINT)
        return write_json(where, self.to_dict())

    @needs_extras("History.plot", TRAINING)
    def plot(self, path: str | Path, /, *, title: str | None = None) -> Path:
        """The tutorial's figure (Loss and Accuracy, train and test), saved atomically."""
        where = check_path(path, name="path", fname="History.plot", hint="pass e.g. 'curves.png'")
        kind = where.suffix.lstrip(".").lower()
        if kind:  # none: PNG
            from matplotlib.backend_bases import FigureCanvasBase  # bcelab[train]

            kinds = sorted(FigureCanvasBase.get_supported_filetypes())
            if kind not in kinds:
                raise OptionError(
                    f"History.plot: path must end in an image format matplotlib writes, {kinds}",
                    f"received {where.name!r}",
                    "pass e.g. 'curves.png' or 'curves.pdf'",
                )
        return save_curves(self, where, title=title)

    @needs_extras("History.save", TRAINING)
    def save(self, directory: str | Path, /) -> dict[str, Path]:
        """``history.csv``, ``history.json`` and ``curves.png`` in ``directory``."""
        d = check_path(directory, name="directory", fname="History.save", hint=_PATH_HINT)
        if d.exists() and not d.is_dir():
            raise OptionError(
                "History.save: directory must be a folder (new or existing)",
                f"received {str(d)!r}, which is a file",
                "pass a folder path",
            )
        return {
            "history.csv": self.to_csv(d / "history.csv"),
            "history.json": self.to_json(d / "history.json"),
            "curves.png": self.plot(d / "curves.png"),
        }

    def __repr__(self) -> str:
        return f"History(seeds={self.n_seeds}, epochs={self.epochs}, metrics={list(self.metrics)})"

    def _repr_html_(self) -> str:
        """A notebook's view: the final metrics per split (mean ± sd over seeds), the epochs."""
        return history_html(self)


_ORDER = ("loss", "acc", "bce", "floor", "excess", "excess_fraction", "mse", "psnr")


def _cell(stat: dict[str, Any] | None) -> str:
    if stat is None:
        return ""
    text = f"{stat['mean']:.4f}"
    return text if stat.get("sd") is None else f"{text} ± {stat['sd']:.4f}"


def history_html(h: History, /) -> str:
    """A small self-contained HTML table of ``h``'s final metrics (escaped; inline style)."""
    summary = h.summary()
    names = {k.split("_", 1)[1] for k in summary if k.split("_", 1)[0] in ("train", "test")}
    ordered = [m for m in _ORDER if m in names] + sorted(names.difference(_ORDER))
    spread = f"mean ± sd over {h.n_seeds} seeds" if h.n_seeds > 1 else f"seed {h.seeds[0]}"
    title = f"{h.config.get('data', 'training run')}: {count_of(h.epochs, 'epoch')}, {spread}"
    if h.stop_reason:
        title += f" ({h.stop_reason})"
    td = 'style="padding:2px 10px;text-align:right;font-variant-numeric:tabular-nums"'
    rows = "".join(
        f'<tr><th style="padding:2px 10px;text-align:left">{html.escape(m)}</th>'
        + "".join(
            f"<td {td}>{html.escape(_cell(summary.get(f'{s}_{m}')))}</td>"
            for s in ("train", "test")
        )
        + "</tr>"
        for m in ordered
    )
    head = "".join(
        f'<th style="padding:2px 10px;text-align:right;border-bottom:1px solid #999">{s}</th>'
        for s in ("train", "test")
    )
    return (
        '<table style="border-collapse:collapse;font-family:sans-serif;font-size:13px">'
        f'<caption style="text-align:left;padding:2px 10px;font-weight:bold;white-space:nowrap">'
        f"{html.escape(title)}</caption>"
        f'<thead><tr><th style="padding:2px 10px;text-align:left;border-bottom:1px solid #999">'
        f"final</th>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def load_history(path: str | Path, /) -> History:
    """Read a ``history.json`` written by :meth:`History.to_json` (or the one of a run folder)."""
    p = check_path(
        path, name="path", fname="load_history", hint="pass the out= folder of a training run"
    )
    f = p / "history.json" if p.is_dir() else p
    try:
        return History.from_dict(json.loads(f.read_text(encoding="utf-8")))
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise DataError(
            "a history.json written by bcelab train, or a run folder that holds one",
            f"reading {f} failed: {reason}",
            "pass the out= folder of a training run",
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # not JSON, other JSON
        raise DataError(
            "a history.json written by bcelab train",
            f"{f} is not one ({type(e).__name__}: {e})",
            "pass the history.json of a training run; this one is damaged or another file",
        ) from None
