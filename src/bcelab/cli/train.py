"""``bcelab train``: the two-circles tutorial (and other data), many seeds at once.

``bcelab train circles`` reproduces seed 001 (Keras's two-circles MLP) with bcelab's BCE
on PyTorch; ``--seeds 30`` trains 30 seeds as one batched computation and reports
mean ± sd and a 95% CI.  ``bcelab train file --data FILE --target COL`` trains on a
CSV/Parquet table.  ``bcelab train autoencoder ...`` is handed to
:mod:`bcelab.cli.autoencoder`.  ``config_from_args`` checks every flag (and names it
as typed) before any data is read; ``execute`` trains and prints.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..errors import OptionError
from ..train.artifacts import load_checkpoint
from ..train.data import Dataset, builtin, load_table
from ..train.fitting import fit
from ..train.history import History
from ..train.loop import DivergedError
from ..train.mlp.models import MLPSpec
from ..train.plots import start_worker
from ..train.progress import ProgressBar
from . import autoencoder, flags

__all__ = ["Config", "add_arguments", "config_from_args", "execute"]

TASKS = ("circles", "moons", "breast-cancer", "file")
TUTORIAL = {"train_acc": 0.836, "test_acc": 0.852}  # seed 001's printed line (one Keras run)


@dataclass(frozen=True)
class Config:
    task: str = "circles"
    data: str | None = None
    target: str | None = None
    features: tuple[str, ...] | None = None
    test: str | None = None
    test_fraction: float = 0.5
    dropna: bool = False
    hidden: tuple[int, ...] = (50,)
    epochs: int = 200
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    optimizer: str = "sgd"
    loss: str = "bce"
    label_smoothing: float = 0.0
    seeds: int = 1
    seed: int = 0
    out: str | None = None
    resume: str | None = None
    quiet: bool = False
    epochs_given: bool = False


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hidden",
        default="50",
        metavar="N[,N...]",
        help="hidden layer sizes (default 50: the tutorial's Dense(50, relu))",
    )
    p.add_argument("--epochs", type=int, default=None, help="default 200")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--loss", choices=("bce", "focal", "kl"), default="bce")
    p.add_argument("--label-smoothing", type=float, default=0.0, metavar="S")
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train this many seeds at once (batched) and report mean ± CI",
    )
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder for curves.png, history.*, model.pt, summary.json "
        "(default runs/<name>-<timestamp>/)",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the run in DIR (its options are reused; --epochs may grow)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="task", metavar="TASK", required=True)
    helps = {
        "circles": "seed 001: two circles, MLP 2-50-1, SGD, 200 epochs",
        "moons": "two moons (make_moons, noise 0.2)",
        "breast-cancer": "scikit-learn's bundled breast-cancer data, standardised",
        "file": "your CSV/Parquet file: --data FILE --target COL",
    }
    for task in TASKS:
        sp = sub.add_parser(task, help=helps[task], description=helps[task])
        if task == "file":
            sp.add_argument(
                "--data",
                required=True,
                metavar="FILE",
                help="a .csv or .parquet table with a header",
            )
            sp.add_argument(
                "--target", required=True, metavar="COL", help="the 0/1 (or [0, 1]) target column"
            )
            sp.add_argument(
                "--features",
                default=None,
                metavar="A,B,C",
                help="feature columns (default: all other columns)",
            )
            sp.add_argument("--test", default=None, metavar="FILE", help="a separate test table")
            sp.add_argument(
                "--test-fraction",
                type=float,
                default=0.5,
                help="without --test: share of shuffled rows held out (default 0.5)",
            )
            sp.add_argument("--dropna", action="store_true", help="drop rows with missing values")
        _common(sp)
    sp = sub.add_parser(
        "autoencoder",
        help="image autoencoder: BCE = floor + excess",
        description="image autoencoder with a sigmoid output and BCE",
    )
    autoencoder.add_arguments(sp)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        vals = ()
    if not vals or min(vals) < 1:
        raise OptionError(
            "--hidden must be comma-separated layer sizes >= 1",
            f"received {text!r}",
            "use e.g. --hidden 50 or --hidden 64,32",
        )
    return vals


def _file_options(ns: argparse.Namespace) -> dict[str, Any]:
    """``train file``'s own flags (absent for the built-in tasks), checked."""
    if ns.task != "file":
        return {}
    feats = ns.features
    return {
        "data": flags.check_existing_file(ns.data, "--data", "CSV or Parquet file"),
        "target": ns.target,
        "features": None
        if feats is None
        else tuple(f.strip() for f in feats.split(",") if f.strip()),
        "test": None
        if ns.test is None
        else flags.check_existing_file(ns.test, "--test", "CSV or Parquet file"),
        "test_fraction": ns.test_fraction
        if ns.test is not None
        else flags.check_fraction(ns.test_fraction, "--test-fraction", "0.5"),
        "dropna": ns.dropna,
    }


def config_from_args(ns: argparse.Namespace) -> Any:
    """The options, each checked and named as a flag, before any data is read."""
    if ns.task == "autoencoder":
        return autoencoder.config_from_args(ns)
    return Config(
        task=ns.task,
        **_file_options(ns),
        hidden=_hidden(ns.hidden),
        epochs=200 if ns.epochs is None else flags.check_positive(ns.epochs, "--epochs", 200),
        batch_size=flags.check_positive(ns.batch_size, "--batch-size", 32),
        lr=flags.check_lr(ns.lr, "0.01"),
        momentum=flags.check_unit_open(ns.momentum, "--momentum", "0.9"),
        optimizer=ns.optimizer,
        loss=ns.loss,
        label_smoothing=flags.check_unit_open(ns.label_smoothing, "--label-smoothing", "0.1"),
        seeds=flags.check_positive(ns.seeds, "--seeds", 30),
        seed=flags.check_seed(ns.seed),
        out=ns.out,
        resume=None if ns.resume is None else flags.check_resume_dir(ns.resume),
        quiet=ns.quiet,
        epochs_given=ns.epochs is not None,
    )


def _resumed(cfg: Config) -> Config:
    """The original run's options (from its checkpoint), with a new --epochs if given."""
    assert cfg.resume is not None
    ck = load_checkpoint(cfg.resume)
    saved = dict(ck.get("run_info", {}).get("cli", {}))
    known = {f.name for f in fields(Config)}
    kw: dict[str, Any] = {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in known
    }
    old = replace(Config(), **kw)
    return replace(
        old,
        resume=cfg.resume,
        out=cfg.out or cfg.resume,
        quiet=cfg.quiet,
        epochs=cfg.epochs if cfg.epochs_given else old.epochs,
        epochs_given=False,
    )


def _dataset(cfg: Config) -> Dataset:
    if cfg.task == "file":
        assert cfg.data is not None and cfg.target is not None
        return load_table(
            cfg.data,
            target=cfg.target,
            features=cfg.features,
            test=cfg.test,
            test_fraction=cfg.test_fraction,
            dropna=cfg.dropna,
        )
    return builtin(cfg.task)


def _default_out(name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = Path("runs") / f"{name}-{stamp}"
    out, i = base, 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{i}")
    return out


def _fmt_stat(s: dict[str, Any]) -> str:
    if s["sd"] is None:
        return f"{s['mean']:.4f}"
    lo, hi = s["ci95"]
    return f"{s['mean']:.4f} ± {s['sd']:.4f}  (95% CI {lo:.4f} to {hi:.4f})"


def _train(cfg: Config, ds: Dataset, out: Path) -> History:
    """``fit`` with the CLI's options, a progress bar unless --quiet, and flag-named advice
    when the loss diverges."""
    bar = None if cfg.quiet else ProgressBar(cfg.epochs)
    info = {"cli": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}}
    try:
        return fit(
            MLPSpec(hidden=cfg.hidden),
            ds,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            momentum=cfg.momentum,
            optimizer=cfg.optimizer,
            loss=cfg.loss,
            label_smoothing=cfg.label_smoothing,
            seeds=cfg.seeds,
            seed=cfg.seed,
            callbacks=[bar] if bar is not None else [],
            resume=cfg.resume,
            out=out,
            run_info=info,
        )
    except DivergedError as e:
        print(f"bcelab train: history written to {out}", file=sys.stderr)
        raise DivergedError(
            e.expected,
            e.received,
            f"try a smaller learning rate (e.g. --lr {cfg.lr / 10:g}), --optimizer adam, "
            "standardised features, or fewer epochs",
        ) from None
    finally:
        if bar is not None:
            bar.close()


def _report(cfg: Config, ds: Dataset, h: History) -> None:
    """The run's lines: model and recipe, the tutorial's accuracy line, losses, floor."""
    s = h.summary()
    n = h.n_seeds
    dims = "-".join(str(d) for d in (ds.x_train.shape[1], *cfg.hidden, ds.y_train.shape[1]))
    opt = (
        f"SGD lr {cfg.lr:g} momentum {cfg.momentum:g}"
        if cfg.optimizer == "sgd"
        else f"Adam lr {cfg.lr:g}"
    )
    print(
        f"{ds.name}: MLP {dims}, {opt}, {cfg.loss.upper()} on logits, batch {cfg.batch_size}, "
        f"{h.epochs} epochs, {'seed ' + str(h.seeds[0]) if n == 1 else f'{n} seeds'}"
    )
    if "train_acc" in s:
        tail = "" if n == 1 else f"   (mean of {n} seeds)"
        print(f"Train: {s['train_acc']['mean']:.3f}, Test: {s['test_acc']['mean']:.3f}{tail}")
    if n > 1:
        print(f"final metrics over {n} seeds: mean ± sd (95% CI of the mean)")
        for key in ("train_acc", "test_acc", "train_loss", "test_loss"):
            if key in s:
                print(f"  {key.replace('_', ' '):<11} {_fmt_stat(s[key])}")
    else:
        print(f"loss: train {s['train_loss']['mean']:.4f}, test {s['test_loss']['mean']:.4f}")
    if "test_excess" in s:
        print(
            f"test BCE {s['test_bce']['mean']:.4f} = floor {s['test_floor']['mean']:.4f} + "
            f"excess {s['test_excess']['mean']:.4f} (the part training can still reduce)"
        )
    if ds.name == "circles" and cfg.task == "circles":
        print(
            f"tutorial (seed 001, one Keras run): Train: {TUTORIAL['train_acc']:.3f}, "
            f"Test: {TUTORIAL['test_acc']:.3f}"
        )


def execute(cfg: Any) -> int:
    if isinstance(cfg, autoencoder.Config):
        return autoencoder.execute(cfg)
    t_start = time.perf_counter()
    start_worker()  # imports matplotlib on the other core while torch loads here
    if cfg.resume is not None:
        cfg = _resumed(cfg)
    ds = _dataset(cfg)  # bad data fails here, before any folder is created
    out = Path(cfg.out) if cfg.out else _default_out(ds.name)
    h = _train(cfg, ds, out)
    _report(cfg, ds, h)
    if h.interrupted:
        print(
            f"interrupted after epoch {h.epochs}: history and checkpoint saved in {out}; "
            f"continue with: bcelab train {cfg.task} --resume {out}",
            file=sys.stderr,
        )
    print(
        f"trained in {h.train_time:.2f} s ({time.perf_counter() - t_start:.2f} s in this "
        f"command); wrote {out}/: curves.png, history.csv, history.json, model.pt, summary.json"
    )
    return 130 if h.interrupted else 0
