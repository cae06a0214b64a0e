"""A seeded Parquet file of rows in 40 integer segments, shared by the segment tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def segment_file(
    path: Path, n: int, seed: int, bad_row: int | None = None
) -> dict[str, np.ndarray]:
    """Write columns y, p (float32), g (40 int32 segments) and w (float64 weights) to
    ``path`` in row groups of 2**14 rows, with ``p = 1.5`` at ``bad_row`` when given;
    return the columns."""
    rng = np.random.default_rng(seed)
    p = rng.random(n).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    g = rng.integers(0, 40, n).astype(np.int32)
    w = (rng.random(n) + 0.5).astype(np.float64)
    if bad_row is not None:
        p[bad_row] = 1.5
    pq.write_table(pa.table({"y": y, "p": p, "g": g, "w": w}), path, row_group_size=1 << 14)
    return {"y": y, "p": p, "g": g, "w": w}
