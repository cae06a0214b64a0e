"""The recalibration flags of ``bcelab eval``: --recalibrate, --fit-on, --negative-rate,
--save-map.

They are checked in ``config_from_args``, before any data is read: the method's name,
that ``--fit-on`` exists, that ``--save-map`` can be written, and the combinations that
make no sense (``--fit-on`` without a map to fit, ``downsampling`` without
``--negative-rate``).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from .._core.options import RECALIBRATION_METHODS
from ..errors import DataError, OptionError
from .numbers import number
from .output import check_file

__all__ = ["RecalibrationFlags", "add_recalibration_arguments", "check_recalibration_flags"]


@dataclass(frozen=True)
class RecalibrationFlags:
    recalibrate: str | None = None
    fit_on: str | None = None
    negative_rate: float | None = None
    save_map: str | None = None


def add_recalibration_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recalibration and negative downsampling")
    g.add_argument(
        "--recalibrate",
        metavar="METHOD",
        help="fit a recalibration map and report the metrics after it: "
        + ", ".join(RECALIBRATION_METHODS)
        + " (downsampling needs --negative-rate)",
    )
    g.add_argument(
        "--fit-on",
        metavar="FILE_OR_DIR",
        help="fit the map on this calibration set (same columns) instead of the evaluated rows",
    )
    g.add_argument(
        "--negative-rate",
        type=number,
        metavar="W",
        help="the data kept each negative with probability W (0 < W <= 1): count every "
        "negative 1/W times (times --weight) for the population's metrics",
    )
    g.add_argument(
        "--save-map",
        metavar="FILE",
        help="write the fitted map as JSON (for `bcelab recalibrate`); --report DIR also "
        "writes it, as DIR/map.json",
    )


def check_recalibration_flags(ns: argparse.Namespace) -> RecalibrationFlags:
    """The four flags, checked one by one and together, in the command line's words."""
    method, fit_on, rate, save = ns.recalibrate, ns.fit_on, ns.negative_rate, ns.save_map
    if rate is not None and not (math.isfinite(rate) and 0.0 < rate <= 1.0):
        raise OptionError(
            "--negative-rate must be a number in (0, 1]: the share of negatives kept",
            f"received --negative-rate {rate!r}",
            "write e.g. --negative-rate 0.1 for data that kept one negative in ten",
        )
    if method is None:
        for flag, value in (("--fit-on", fit_on), ("--save-map", save)):
            if value is not None:
                raise OptionError(
                    f"{flag} only with --recalibrate (the map to fit)",
                    f"received {flag} {value} without --recalibrate",
                    "add e.g. --recalibrate platt",
                )
        return RecalibrationFlags(negative_rate=rate)
    if method not in RECALIBRATION_METHODS:
        raise OptionError(
            f"--recalibrate must be one of {', '.join(RECALIBRATION_METHODS)}",
            f"received --recalibrate {method}",
            "write e.g. --recalibrate platt",
        )
    if method == "downsampling" and rate is None:
        raise OptionError(
            "--recalibrate downsampling with --negative-rate W (the share of negatives kept)",
            "received no --negative-rate",
            "add e.g. --negative-rate 0.1",
        )
    if method == "downsampling" and fit_on is not None:
        raise OptionError(
            "no --fit-on with --recalibrate downsampling (q = p / (p + (1 - p) / W) is not fitted)",
            f"received --fit-on {fit_on}",
            "drop --fit-on, or use --recalibrate platt to fit a map on it",
        )
    if fit_on is not None and not Path(fit_on).exists():
        raise DataError(
            "--fit-on must name an existing file or folder (the calibration set)",
            f"received {fit_on!r}, which does not exist",
            "check the path",
        )
    if save is not None:
        _check_map_file(check_file(save, "--save-map", "map.json"), ns)
    return RecalibrationFlags(method, fit_on, rate, save)


#: a map's JSON is at most a few MB (an isotonic map of every fine bin); a larger
#: existing file is not one, and is not read to find out
_MAP_BYTES = 16 * 2**20


def _check_map_file(out: Path, ns: argparse.Namespace) -> None:
    """``--save-map``: a new file, or a map that an earlier run saved (replaced); never an
    input, another file, or a file inside ``--report`` (which writes its own map.json)."""
    report = getattr(ns, "report", None)
    if report is not None and Path(report).absolute() in out.absolute().parents:
        if out.name != "map.json" or out.parent.absolute() != Path(report).absolute():
            raise OptionError(
                "--save-map outside the --report folder (the report writes its map as "
                f"{Path(report) / 'map.json'})",
                f"received --save-map {out} and --report {report}",
                "drop --save-map (the report holds the map), or save it outside the folder",
            )
        return
    if not out.exists():
        return
    if out.stat().st_size <= _MAP_BYTES:
        from ..metrics.recalibration import load_map  # only to check an existing file

        try:
            load_map(out)
            return
        except DataError:
            pass
    raise OptionError(
        "--save-map naming a new file, or a map an earlier --save-map wrote (replaced)",
        f"received --save-map {out}, an existing file that is not a recalibration map",
        "choose another path for --save-map, or remove that file first",
    )
