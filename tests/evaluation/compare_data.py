"""Seeded data of two models on the same rows, shared by the comparison tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 24_000
REPS = 40


def table(n: int = ROWS, seed: int = 0) -> pa.Table:
    """Rows with a true score, two distorted models, weights, a segment and an id."""
    rng = np.random.default_rng(seed)
    s = rng.normal(-0.8, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-s))).astype(np.float32)
    za = 1.3 * (s + rng.normal(0, 0.6, n)) + 0.2
    zb = 0.9 * (s + rng.normal(0, 0.5, n))
    return pa.table(
        {
            "y": y,
            "a": (1 / (1 + np.exp(-za))).astype(np.float32),
            "b": (1 / (1 + np.exp(-zb))).astype(np.float32),
            "za": za.astype(np.float32),
            "zb": zb.astype(np.float32),
            "w": rng.uniform(0.5, 2.0, n).astype(np.float32),
            "g": rng.choice(np.array(["x", "y", "z"]), n),
            "id": rng.permutation(5 * n)[:n].astype(np.int64),
        }
    )


def one_positive() -> pa.Table:
    """60 rows with one positive: about a third of the resamples leave it out, and there
    ROC-AUC, PR-AUC, NE and the calibration ratio are undefined."""
    rng = np.random.default_rng(1)
    y = np.zeros(60)
    y[3] = 1.0
    return pa.table({"y": y, "a": rng.random(60), "b": rng.random(60)})


def write_parts(folder: Path, t: pa.Table, parts: int, *, stem: str = "part") -> list[Path]:
    """``t`` cut into ``parts`` consecutive Parquet files (row groups of 3,000 rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    cuts = np.linspace(0, t.num_rows, parts + 1).astype(int)
    paths = []
    for i in range(parts):
        p = folder / f"{stem}-{i}.parquet"
        pq.write_table(t.slice(cuts[i], cuts[i + 1] - cuts[i]), p, row_group_size=3000)
        paths.append(p)
    return paths


def body(d: dict[str, Any]) -> str:
    """The JSON of a comparison without its sources (what must not depend on the files)."""
    out = {k: v for k, v in d.items() if k not in ("source", "files")}
    return json.dumps(out, sort_keys=True)
