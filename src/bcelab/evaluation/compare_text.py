"""Plain-text rendering of a :class:`~bcelab.evaluation.compare_result.ComparisonResult`.

One header (the data, how rows were keyed, the bootstrap), one table of A, B, B − A,
the interval and the p-value per metric, the verdict, and a table per segment.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .._core.display import count_of
from .._core.replicates import fewest_replicates, smallest_p_value
from ..metrics.paired_result import REFLECTED
from ..metrics.result import NEEDS
from .compare_labels import LABELS
from .text import label_note, segment_label, undefined_legend

if TYPE_CHECKING:
    from .compare_result import ComparisonResult

__all__ = [
    "FEW_ROWS",
    "SEGMENT_METRICS",
    "few_rows_note",
    "keying_line",
    "notes",
    "one_unit_note",
    "p_floor_note",
    "render_comparison",
    "segments_legend",
    "undefined_notes",
]

#: the metrics of the per-segment table
SEGMENT_METRICS = ("log_loss", "roc_auc")
#: An estimate this close (relative) to its interval's end is at the end: the estimate
#: and the replicates come from sums at two fixed-point scales (NE on two rows: 2.9e-11)
ROUNDING = 1e-9
#: ... and so is one within the replicates' unit, 2**-32 (two models one ulp apart:
#: a Brier difference of 2.8e-17 with an interval of [0, 0])
REPLICATE_UNIT = 2.0**-32


def _g(v: Any, spec: str = ".6g") -> str:
    return "n/a" if v is None else format(float(v) + 0.0, spec)  # never -0


def _ci(ci: list[Any]) -> str:
    lo, hi = ci
    return "n/a" if lo is None or hi is None else f"[{_g(lo, '+.4g')}, {_g(hi, '+.4g')}]"


def keying_line(d: dict[str, Any], id_hint: str) -> str:
    """How the rows were keyed for the bootstrap weights (``id_hint``: how to name an id
    column, e.g. ``"id='column'"`` in Python or ``"--id COL"`` on the command line)."""
    if d["keyed_by"] == "id":
        return f"rows keyed by the id column {d['columns']['id']!r}"
    if not d["files"]:
        return (
            "rows keyed by their position (no id column): the result depends on the order "
            f"of the rows; {id_hint} keys each row by its id instead"
        )
    return (
        "rows keyed by file and row (no id column): the result depends on the file names "
        f"and the order of the rows; {id_hint} keys each row by its id instead"
    )


#: the comparison's row counts in words: (noun, whose)
_COUNTED = {
    "nan_a": ("NaN or null prediction", " of model A"),
    "nan_b": ("NaN or null prediction", " of model B"),
    "invalid_target": ("missing or invalid target", ""),
    "clipped_a": ("clipped prediction", " of model A"),
    "clipped_b": ("clipped prediction", " of model B"),
}


def _header(res: ComparisonResult, d: dict[str, Any], id_hint: str) -> list[str]:
    c = res.columns
    kind = "logit" if c.logits else "pred"
    where = ", ".join(res.source) if len(res.source) <= 3 else f"{len(res.source)} sources"
    cols = f"target {c.target!r}, {kind} A {c.pred!r}, {kind} B {c.pred_b!r}" + (
        f", weight {c.weight!r}" if c.weight else ""
    )
    rows = f"{count_of(d['rows'], 'row', grouped=True)} ({d['rows_used']:,} used)"
    excluded = {k: v for k, v in d["excluded"].items() if v}
    if excluded:
        rows += "; " + ", ".join(
            f"{count_of(v, _COUNTED[k][0], grouped=True)}{_COUNTED[k][1]}"
            for k, v in excluded.items()
        )
    pct = f"{100 * d['confidence']:g}%"
    return [
        f"{where}: {count_of(res.files, 'file') if res.files else 'in memory'}, {cols}",
        f"{rows}; {keying_line(d, id_hint)}",
        f"paired bootstrap: {d['replicates']} replicates (seed {d['seed']}), {pct} intervals "
        f"of B − A (percentile; basic for discrimination and miscalibration); "
        f"{res.seconds:.2f} s ({res.engine})",
    ]


def _table(metrics: dict[str, dict[str, Any]], pct: str) -> list[str]:
    head = f"{'metric':<16}{'A':>12}{'B':>12}{'B − A':>13}  {pct + ' CI':<26}{'p':>8}  better"
    lines = [head]
    for name, m in metrics.items():
        lines.append(
            f"{LABELS.get(name, name):<16}{_g(m['a']):>12}{_g(m['b']):>12}"
            f"{_g(m['diff'], '+.4g'):>13}  {_ci(m['ci']):<26}{_g(m['p_value'], '.3g'):>8}  "
            f"{m['better'] or ''}".rstrip()
        )
    return lines


def _segments(by: str, segs: list[dict[str, Any]], pct: str) -> list[str]:
    width = max(len(by), *(len(segment_label(s["value"])) for s in segs))
    head = f"{by:<{width}}  {'rows':>10}"
    for name in SEGMENT_METRICS:
        head += f"  {LABELS[name] + ' B − A':>16}  {pct + ' CI':<24}{'p':>8}"
    lines = [head]
    for s in segs:
        line = f"{segment_label(s['value']):<{width}}  {s['rows']:>10,}"
        for name in SEGMENT_METRICS:
            m = (s["metrics"] or {}).get(name)
            if m is None:
                line += f"  {'n/a':>16}  {'':<24}{'':>8}"
                continue
            line += f"  {_g(m['diff'], '+.4g'):>16}  {_ci(m['ci']):<24}{_g(m['p_value'], '.3g'):>8}"
        lines.append(line)
    legend = segments_legend(segs)
    return [*lines, legend] if legend else lines


def segments_legend(segs: list[dict[str, Any]]) -> str | None:
    """What an ``n/a`` in the segments' table means where neither model has the metric in
    a segment (one class there); None when no such cell."""

    def values(seg: dict[str, Any]) -> dict[str, Any]:
        ms = seg["metrics"] or {}
        return {k: None if ms.get(k) is None else ms[k]["a"] for k in SEGMENT_METRICS}

    return undefined_legend((values(s) for s in segs), SEGMENT_METRICS)


#: below this many used rows the paired bootstrap's intervals are too narrow (docs/which-model.md)
FEW_ROWS = 50


def _few_units(part: dict[str, Any], keyed_by: str, replicates: int) -> float | None:
    """The number of independent units a comparison (or a segment) resamples, where
    shared ids or uneven weights leave clearly fewer than :data:`FEW_ROWS` of them among
    at least that many rows (None otherwise).

    Keyed by position it is Kish's effective number of rows, exact; keyed by an id it is
    estimated with a relative error of about sqrt(2 / R), and "clearly" is 3 of those
    below the rows, so unique ids of equal weight are not mistaken for shared ones."""
    units = part.get("resampling_units")
    if units is None or part["rows_used"] < FEW_ROWS:
        return None
    margin = 1.0 - 3.0 * math.sqrt(2.0 / replicates) if keyed_by == "id" else 1.0
    return units if units < FEW_ROWS and units < margin * part["rows_used"] else None


def _one_unit(part: dict[str, Any]) -> bool:
    """Whether one resampling unit holds every row (the intervals are then undefined)."""
    ll = (part.get("metrics") or {}).get("log_loss") or {}
    return part.get("resampling_units") == 1.0 and ll.get("p_value") is None


def one_unit_note(d: dict[str, Any]) -> str:
    """A note when the comparison, or a segment, rests on one resampling unit ("" otherwise)."""
    segs = [segment_label(s["value"]) for s in d.get("segments") or () if _one_unit(s)]
    if _one_unit(d):
        if d["rows_used"] == 1:
            what = "one row"
        elif d["keyed_by"] == "id":
            what = "one id (every row with a weight above 0 has it)"
        else:
            what = "one row (every other row has a weight of 0)"
        where = f"The comparison rests on {what}"
    elif segs:
        names = ", ".join(segs[:3]) + (f" and {len(segs) - 3} more" if len(segs) > 3 else "")
        verb = "rests" if len(segs) == 1 else "rest"
        where = f"{count_of(len(segs), 'segment')} ({names}) {verb} on one row or one id"
    else:
        return ""
    return (
        f"{where}: every bootstrap replicate counts all those rows the same number of "
        "times, so the replicates show no spread and there are no intervals or p-values. "
        "More rows (or, with an id column, more distinct ids) are needed to tell how sure "
        "B − A is."
    )


def few_rows_note(d: dict[str, Any]) -> str:
    """A warning when the comparison, or one of its segments, rests on fewer than
    :data:`FEW_ROWS` rows, or on fewer than that many ids where rows share them ("" otherwise);
    ``d`` is :meth:`ComparisonResult.to_dict`."""
    if _one_unit(d):  # one_unit_note says more
        return ""
    keyed, r = d["keyed_by"], d["replicates"]
    small = [
        segment_label(s["value"])
        for s in d.get("segments") or ()
        if not _one_unit(s) and (s["rows_used"] < FEW_ROWS or _few_units(s, keyed, r))
    ]
    units = _few_units(d, keyed, r)
    if d["rows_used"] < FEW_ROWS:
        where = f"Only {count_of(d['rows_used'], 'row')}: with fewer than {FEW_ROWS} rows"
    elif units is not None and keyed == "id":
        where = (
            f"The bootstrap resamples about {count_of(round(units), 'independent id', grouped=True)} (estimated from "
            "the replicates' total weights): the rows share ids, or a few ids carry most "
            f"of the weight, and with fewer than {FEW_ROWS} such units"
        )
    elif units is not None:
        where = (
            f"The weights rest on few rows: their effective number (Kish's, (sum of w)² / "
            f"sum of w²) is {units:,.1f}, and with fewer than {FEW_ROWS} such units"
        )
    elif small:
        names = ", ".join(small[:3]) + (f" and {len(small) - 3} more" if len(small) > 3 else "")
        where = (
            f"{count_of(len(small), 'segment')} with fewer than {FEW_ROWS} "
            f"{'rows or ids' if keyed == 'id' else 'rows'} ({names}): there"
        )
    else:
        return ""
    return (
        f"{where} the bootstrap intervals are too narrow and the p-values too small (in "
        "simulations, 95% intervals of log loss covered the population difference in 87% "
        "of data sets of 10 rows, 91% of 20 rows and 93% of 50 rows); read them as rough."
    )


def _at_floor(metrics: dict[str, dict[str, Any]], r: int) -> list[str]:
    """The metrics whose p-value is the smallest all ``r`` replicates can give."""
    return [
        LABELS.get(name, name)
        for name, m in metrics.items()
        if m.get("p_value") is not None
        and m.get("replicates_used") == r
        and m["p_value"] <= smallest_p_value(r) * (1 + 1e-9)
    ]


def p_floor_note(d: dict[str, Any]) -> str:
    """A note when a p-value is the smallest the replicates can give ("" otherwise): with
    R replicates no p is below 2 / (R + 1), so such a p only says "this small or smaller"."""
    r = d["replicates"]
    overall = _at_floor(d["metrics"], r)
    segs = sum(1 for s in d.get("segments") or () if _at_floor(s["metrics"] or {}, r))
    if not overall and not segs:
        return ""
    where = " and ".join(
        x for x in (", ".join(overall), count_of(segs, "segment") * bool(segs)) if x
    )
    floor = f"{smallest_p_value(r):.3g}"
    return (
        f"p = {floor} ({where}) is the smallest p-value {r} replicates can give, 2 / {r + 1}: "
        f"read it as p ≤ {floor}; more replicates resolve smaller ones."
    )


def _outside_notes(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """A note for the metrics whose B − A lies outside its own interval."""
    beside: dict[bool, list[str]] = {False: [], True: []}
    for name, m in metrics.items():
        lo, hi = m["ci"]
        if None in (m["diff"], lo, hi):
            continue
        # the replicates' fixed point
        slack = ROUNDING * max(abs(m["diff"]), abs(lo), abs(hi)) + REPLICATE_UNIT
        if not lo - slack <= m["diff"] <= hi + slack:
            beside[name in REFLECTED].append(LABELS.get(name, name))
    notes = []
    if beside[True]:
        notes.append(
            f"{', '.join(beside[True])}: the estimate lies outside its interval. The isotonic "
            "fit behind it overfits one model more than the other (most of all against a "
            "constant model), and the basic interval takes that bias off: the difference "
            "in the population most likely lies inside the interval, not at the estimate."
        )
    if beside[False]:
        notes.append(
            f"{', '.join(beside[False])}: the estimate lies outside its interval: the "
            "statistic is biased on resampled rows and its percentile interval moves with "
            "the bias; read it with care."
        )
    return notes


def _short_of_replicates(metrics: dict[str, dict[str, Any]], need: int) -> dict[str, int]:
    """The metrics with an estimate but no interval for want of replicates: label -> used."""
    return {
        LABELS.get(name, name): m["replicates_used"]
        for name, m in metrics.items()
        if m["diff"] is not None and None in m["ci"] and m["replicates_used"] < need
    }


def _undefined_for_both(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """A note for the metrics neither model has a value of (the rows hold one class)."""
    gaps = [k for k, m in metrics.items() if k in NEEDS and m["a"] is None and m["b"] is None]
    if not gaps:
        return []
    uncertainty = (metrics.get("uncertainty") or {}).get("a")
    one = "0" if "calibration" in gaps else "1"
    cause = f", as every used target is {one}" if uncertainty == 0.0 else ""
    needs = "; ".join(f"{LABELS[k]} needs {NEEDS[k]}" for k in gaps)
    return [f"{', '.join(LABELS[k] for k in gaps)}: undefined for both models{cause}: {needs}."]


def undefined_notes(d: dict[str, Any]) -> list[str]:
    """A note for the metrics that neither model has a value of (one class only), and for
    those that have an estimate but no interval, because too few replicates define them
    (resamples without a positive or without a negative row), overall and in the
    segments of ``--by``."""
    need = fewest_replicates(d["confidence"])
    why = (
        "(the others drew no row, or no positive or no negative row where the metric "
        "needs both); a "
        f"{100 * d['confidence']:g}% interval needs {need}: compare again with more replicates."
    )
    notes = _undefined_for_both(d["metrics"])
    short = _short_of_replicates(d["metrics"], need)
    if short:
        used = sorted(set(short.values()))
        counts = f"{used[0]} to {used[-1]}" if len(used) > 1 else str(used[0])
        notes.append(
            f"{', '.join(short)}: no interval, as only {counts} of the {d['replicates']} "
            f"replicates define them {why}"
        )
    segs = [
        segment_label(s["value"])
        for s in d.get("segments") or ()
        if _short_of_replicates(s["metrics"] or {}, need)
    ]
    if segs:
        names = ", ".join(segs[:3]) + (f" and {len(segs) - 3} more" if len(segs) > 3 else "")
        notes.append(
            f"{count_of(len(segs), 'segment')} ({names}): a metric without an interval there has too "
            f"few of the {d['replicates']} replicates that define it {why}"
        )
    return notes


def notes(d: dict[str, Any]) -> list[str]:
    """Every note under the verdict, in the order the text, the HTML report and the
    notebook view show them: estimates outside their intervals, metrics without a value
    or an interval, one resampling unit, few units, and the smallest p-value."""
    m = d["metrics"]
    no_positives = (
        (m.get("uncertainty") or {}).get("a") == 0.0
        and "calibration" in m
        and (m["calibration"]["a"] is None)
    )
    label = label_note(d["columns"].get("positive_label"), no_positives)
    texts = [*_outside_notes(m), *undefined_notes(d)]
    more = (label, one_unit_note(d), few_rows_note(d), p_floor_note(d))
    return texts + [t for t in more if t]


def render_comparison(res: ComparisonResult, *, id_hint: str = "id='column'") -> str:
    """The comparison as text (see the module docstring)."""
    d = res.to_dict()
    pct = f"{100 * d['confidence']:g}%"
    lines = [*_header(res, d, id_hint), "", *_table(d["metrics"], pct)]
    v = d["verdict"]
    lines += [""] + [t for t in (v["text"], v["why"]) if t]
    lines += notes(d)
    if res.columns.by is not None and d.get("segments"):
        lines += ["", *_segments(str(res.columns.by), d["segments"], pct)]
    return "\n".join(lines)
