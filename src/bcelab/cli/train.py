"""``bcelab train``: the two-circles tutorial (and other data), many seeds at once.

``bcelab train circles`` reproduces the two-circles tutorial (Keras's MLP) with bcelab's
BCE on PyTorch; ``--seeds 30`` trains 30 seeds as one batched computation and reports
mean ± sd and a 95% CI.  ``bcelab train file --data FILE --target COL`` trains on a
CSV/TSV/Parquet table.  ``bcelab train autoencoder ...`` is handed to
:mod:`bcelab.cli.autoencoder`.  ``config_from_args`` checks every flag (and names it
as typed) and the output folder before any data is read; ``execute`` trains and prints.
The options that a resumed run compares are those the user typed (``Config.given``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from .._core.display import count_of
from ..errors import OptionError
from ..train.artifacts import RUN_FILES, load_checkpoint
from ..train.data import Dataset, builtin, load_table
from ..train.fitting import fit
from ..train.history import History
from ..train.loop import DivergedError
from ..train.mlp.models import MLPSpec
from ..train.plots import start_worker
from ..train.progress import ProgressBar
from . import autoencoder, flags, run_folder
from .train_flags import DEFAULTS, FLAG_NAMES, TASKS, add_arguments, given_options

__all__ = ["SUBCOMMANDS", "VALUE_FLAGS", "Config", "add_arguments", "config_from_args", "execute"]

#: flags whose value may start with a minus sign (``--positive-label -1``)
VALUE_FLAGS = ("--positive-label",)
#: the words that follow ``bcelab train``
SUBCOMMANDS = (*TASKS, "autoencoder")
TUTORIAL = {"train_acc": 0.836, "test_acc": 0.852}  # the tutorial's printed line (one Keras run)
#: the options of the tutorial's recipe (their defaults, in :class:`Config`, are its values)
_RECIPE = tuple("hidden epochs batch_size lr momentum optimizer loss label_smoothing".split())
#: options that a resumed run keeps (given again, they must be the same)
KEPT = (
    "data",
    "target",
    "features",
    "test",
    "test_fraction",
    "dropna",
    "positive_label",
    "delimiter",
    "hidden",
    "batch_size",
    "lr",
    "momentum",
    "optimizer",
    "loss",
    "label_smoothing",
    "seeds",
    "seed",
    "device",
)


@dataclass(frozen=True)
class Config:
    task: str = "circles"
    data: str | None = None
    target: str | None = None
    features: tuple[str, ...] | None = None
    test: str | None = None
    test_fraction: float = 0.5
    dropna: bool = False
    positive_label: str | None = None
    delimiter: str | None = None
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
    device: str = "cpu"
    out: str | None = None
    resume: str | None = None
    quiet: bool = False
    overwrite: bool = False
    checkpoint_every: int | None = None
    given: frozenset[str] = frozenset()


def _hidden(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in str(text).split(","))  # "50,,3": no layer is empty
    except ValueError:
        vals = ()
    if not vals or min(vals) < 1:
        raise OptionError(
            "--hidden must be comma-separated layer sizes >= 1",
            f"received {text!r}",
            "use e.g. --hidden 50 or --hidden 64,32",
        )
    return vals


def _file_options(ns: argparse.Namespace, v: dict[str, Any]) -> dict[str, Any]:
    """``train file``'s own flags (absent for the built-in tasks), checked."""
    if ns.task != "file":
        return {}
    if ns.resume is None:
        for name in ("data", "target"):
            if v[name] is None:
                raise OptionError(
                    f"--{name} for bcelab train file",
                    f"no --{name} was given",
                    "pass e.g. --data mine.csv --target label (or --resume DIR)",
                )
    if hasattr(ns, "test") and hasattr(ns, "test_fraction"):
        raise OptionError(
            "either --test (a separate test table) or --test-fraction (a share of the "
            "--data rows held out), not both",
            f"received --test {v['test']} and --test-fraction {v['test_fraction']}",
            "leave out --test-fraction to test on the --test table, or leave out --test to "
            "hold out that share of the --data rows",
        )
    feats = v["features"]
    if feats is not None and not feats.replace(",", "").strip():
        raise OptionError(
            "--features to name at least one column",
            f"received --features {feats!r}",
            "name them, e.g. --features x1,x2, or leave --features out to use every "
            "column but the target",
        )
    return {
        "data": None
        if v["data"] is None
        else flags.check_existing_file(v["data"], "--data", "CSV, TSV or Parquet file"),
        "target": v["target"],
        "features": None
        if feats is None
        else tuple(f.strip() for f in feats.split(",") if f.strip()),
        "test": None
        if v["test"] is None
        else flags.check_existing_file(v["test"], "--test", "CSV, TSV or Parquet file"),
        "test_fraction": v["test_fraction"]
        if v["test"] is not None
        else flags.check_fraction(v["test_fraction"], "--test-fraction", "0.5"),
        "dropna": v["dropna"],
        "positive_label": flags.check_positive_label(v["positive_label"]),
        "delimiter": flags.check_delimiter(v["delimiter"]),
    }


def _default_out(ns: argparse.Namespace, v: dict[str, Any]) -> str:
    """``runs/<data>-<UTC timestamp>/`` (the resumed folder itself with --resume)."""
    if ns.resume is not None:
        p = Path(ns.resume)
        return str(p.parent if p.is_file() else p)
    name = Path(v["data"]).stem if ns.task == "file" and v["data"] else ns.task
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = Path("runs") / f"{name}-{stamp}"
    out, i = base, 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{i}")
    return str(out)


def config_from_args(ns: argparse.Namespace) -> Any:
    """The options, each checked and named as a flag, and the output folder, before any
    data is read."""
    if ns.task == "autoencoder":
        return autoencoder.config_from_args(ns)
    given = given_options(ns)
    v = {k: getattr(ns, k, d) for k, d in DEFAULTS.items()}
    if "momentum" in given and v["optimizer"] == "adam":  # Adam keeps its own moments
        raise OptionError(
            "--momentum is SGD's: --optimizer adam takes no momentum",
            f"received --optimizer adam --momentum {v['momentum']:g}",
            "leave out --momentum, or pass --optimizer sgd",
        )
    resume = None if ns.resume is None else flags.check_resume_dir(ns.resume)
    out = ns.out if ns.out is not None else _default_out(ns, v)
    run_folder.check_out_folder(out, allowed=RUN_FILES, resume=resume, overwrite=ns.overwrite)
    return Config(
        task=ns.task,
        **_file_options(ns, v),
        hidden=_hidden(v["hidden"]),
        epochs=flags.check_positive(v["epochs"], "--epochs", 200),
        batch_size=flags.check_positive(v["batch_size"], "--batch-size", 32),
        lr=flags.check_lr(v["lr"], "0.01"),
        momentum=flags.check_unit_open(v["momentum"], "--momentum", "0.9"),
        optimizer=v["optimizer"],
        loss=v["loss"],
        label_smoothing=flags.check_unit_open(v["label_smoothing"], "--label-smoothing", "0.1"),
        seeds=flags.check_positive(v["seeds"], "--seeds", 30),
        seed=flags.check_seed(v["seed"]),
        device=flags.check_device(v["device"]),
        out=out,
        resume=resume,
        quiet=ns.quiet,
        overwrite=ns.overwrite,
        checkpoint_every=flags.check_checkpoint_every(ns.checkpoint_every),
        given=given,
    )


def _resumed(cfg: Config) -> Config:
    """The run's own options (from its checkpoint), with a larger --epochs if given;
    a different task or option is refused, each difference named."""
    assert cfg.resume is not None
    ck = load_checkpoint(cfg.resume)
    info = ck.get("run_info", {})
    saved = run_folder.saved_paths(info.get("cli", {}), info.get("cwd"))
    known = {f.name for f in fields(Config)} - {"given"}
    kw: dict[str, Any] = {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in known
    }
    old = replace(Config(), **kw)
    # an autoencoder run's options name no task: its command does
    task = "an autoencoder" if info.get("command") == "bcelab train autoencoder" else old.task
    other = task != cfg.task
    run_folder.check_resumed(
        asdict(old),
        asdict(cfg),
        given=cfg.given,
        kept=KEPT,
        flags=FLAG_NAMES,
        done=int(ck.get("history", {}).get("epochs", 0)),
        first=[f"the run trained {task}, this command asks for {cfg.task}"] if other else [],
    )
    typed = {k: getattr(cfg, k) for k in run_folder.PATH_OPTIONS if k in cfg.given}
    resumed = replace(run_folder.resumed_config(old, cfg), **typed)
    run_folder.check_saved_files(resumed, info.get("cli", {}))
    return resumed


def _dataset(cfg: Config) -> Dataset:
    if cfg.task == "file":
        assert cfg.data is not None and cfg.target is not None
        return load_table(
            cfg.data,
            target=cfg.target,
            features=cfg.features,
            test=cfg.test,
            test_fraction=None if cfg.test is not None else cfg.test_fraction,
            dropna=cfg.dropna,
            positive_label=cfg.positive_label,
            delimiter=cfg.delimiter,
        )
    return builtin(cfg.task)


def _fmt_stat(s: dict[str, Any]) -> str:
    if s["sd"] is None:
        return f"{s['mean']:.4f}"
    lo, hi = s["ci95"]
    return f"{s['mean']:.4f} ± {s['sd']:.4f}  (95% CI {lo:.4f} to {hi:.4f})"


def _saved_options(cfg: Config) -> dict[str, Any]:
    """The options a resumed run takes again (summary.json and the checkpoint)."""
    skip = ("given", "out", "resume", "quiet", "overwrite", "checkpoint_every")
    saved = {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items() if k not in skip
    }
    return run_folder.saved_paths(saved, None)  # a resume from another directory finds them


def _train(cfg: Config, ds: Dataset, out: Path) -> History:
    """``fit`` with the CLI's options, a progress bar on a terminal unless --quiet, and
    flag-named advice when the loss diverges."""
    bar = None if cfg.quiet or not sys.stderr.isatty() else ProgressBar(cfg.epochs)
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
            run_info={"cli": _saved_options(cfg), "cwd": str(Path.cwd())},
            checkpoint_every=cfg.checkpoint_every,
            device=cfg.device,
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
        f"{count_of(h.epochs, 'epoch')}, {'seed ' + str(h.seeds[0]) if n == 1 else f'{n} seeds'}"
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
        recipe = Config()
        changed = [FLAG_NAMES[k] for k in _RECIPE if getattr(cfg, k) != getattr(recipe, k)]
        verb = "differs" if len(changed) == 1 else "differ"
        differs = f"; this run's {', '.join(changed)} {verb} from it" if changed else ""
        print(
            f"the two-circles tutorial (one Keras run): Train: {TUTORIAL['train_acc']:.3f}, "
            f"Test: {TUTORIAL['test_acc']:.3f}{differs}"
        )


def _seconds(t: float) -> str:
    """A duration for the summary line: two decimals, or two digits below 0.1 s (a short
    run trains in milliseconds, not in "0.00 s")."""
    return f"{t:.2f}" if t >= 0.1 else f"{t:.2g}"


def execute(cfg: Any) -> int:
    if isinstance(cfg, autoencoder.Config):
        return autoencoder.execute(cfg)
    t_start = time.perf_counter()
    start_worker()  # imports matplotlib on the other core while torch loads here
    if cfg.resume is not None:
        cfg = _resumed(cfg)
    ds = _dataset(cfg)  # bad data fails here, before any folder is created
    if ds.one_class is not None:
        print(
            f"bcelab train: note: every training target is {ds.one_class}, so the model can "
            f"only learn to predict {ds.one_class}; check --target and the rows",
            file=sys.stderr,
        )
    if cfg.test is not None and cfg.data is not None and Path(cfg.test).samefile(cfg.data):
        print(
            "bcelab train: note: --test names the --data file itself, so the test loss and "
            "accuracy are measured on the training rows; leave --test out to hold out "
            "--test-fraction of the rows instead",
            file=sys.stderr,
        )
    out = Path(cfg.out)
    h = _train(cfg, ds, out)
    _report(cfg, ds, h)
    if h.interrupted:
        print(
            f"interrupted after epoch {h.epochs}: history and checkpoint saved in {out}; "
            f"continue with: bcelab train {cfg.task} --resume {shlex.quote(str(out.absolute()))}",
            file=sys.stderr,
        )
    files = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    print(
        f"trained in {_seconds(h.train_time)} s ({time.perf_counter() - t_start:.2f} s in this "
        f"command); wrote {out}/: {', '.join(n for n in files if n != 'checkpoint.pt')}"
    )
    return 130 if h.interrupted else 0
