"""bcelab.torch.StreamingBinaryMetrics: update/compute/reset/merge and a two-process gloo all-reduce."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bcelab.torch as bt  # noqa: E402
from bcelab.errors import DomainError, NaNError, OptionError  # noqa: E402
from bcelab.metrics import BinaryMetrics, BinaryStats  # noqa: E402

KEYS = ("log_loss", "floor", "excess", "ne", "ece_uniform", "roc_auc", "accuracy", "rows")


def _batches(seed: int, n: int = 4, size: int = 50):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y = (rng.random(size) < 0.4).astype(np.float32)
        x = (rng.normal(size=size) + 1.5 * (y - 0.5)).astype(np.float32)
        out.append((x, y))
    return out


def test_update_compute_equal_binary_stats_on_all_rows():
    # Reference: BinaryStats (the evaluation issue's state) fed every row at once.
    m = bt.StreamingBinaryMetrics(logits=True)
    batches = _batches(0)
    for x, y in batches:
        m.update(torch.from_numpy(x), torch.from_numpy(y))
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    ref = BinaryStats().update(xs, ys, logits=True).compute().to_dict()
    got = m.compute().to_dict()
    for k in KEYS:
        assert got[k] == pytest.approx(ref[k], rel=1e-12), k


def test_merge_and_reset():
    a, b = bt.StreamingBinaryMetrics(), bt.StreamingBinaryMetrics()
    (x1, y1), (x2, y2) = _batches(1, n=2)
    p1, p2 = 1 / (1 + np.exp(-x1)), 1 / (1 + np.exp(-x2))
    a.update(torch.from_numpy(p1), torch.from_numpy(y1))
    b.update(torch.from_numpy(p2), torch.from_numpy(y2))
    both = bt.StreamingBinaryMetrics().update(
        torch.from_numpy(np.concatenate([p1, p2])), torch.from_numpy(np.concatenate([y1, y2]))
    )
    assert a.merge(b) is a  # in place, like update
    merged = a.compute()
    assert isinstance(merged, BinaryMetrics)  # the result class of bcelab.metrics
    ref = both.compute().to_dict()
    for k in KEYS:
        assert merged.to_dict()[k] == pytest.approx(ref[k], rel=1e-12), k
    assert b.stats.rows == len(y2)  # other is unchanged
    with pytest.raises(OptionError, match=r"PyTorch.*StreamingBinaryMetrics"):
        a.merge(b.stats)
    a = bt.StreamingBinaryMetrics(logits=True, threshold=0.3)
    a.update(torch.from_numpy(x1), torch.from_numpy(y1))
    assert a.reset() is None and a.stats.is_empty
    assert a.logits and a.threshold == 0.3  # the options stay
    a.update(torch.from_numpy(x2), torch.from_numpy(y2))
    ref2 = BinaryStats().update(x2, y2, logits=True).compute(threshold=0.3).to_dict()
    assert a.compute().to_dict()["accuracy"] == pytest.approx(ref2["accuracy"], rel=1e-12)


def test_bfloat16_preds_and_bad_input():
    m = bt.StreamingBinaryMetrics()
    p = torch.tensor([0.25, 0.75], dtype=torch.bfloat16)
    m.update(p, torch.tensor([0.0, 1.0]))
    assert m.compute().log_loss == pytest.approx(-np.log(0.75), rel=1e-12)
    with pytest.raises(DomainError, match="PyTorch"):
        m.update(torch.tensor([0.5, 1.5]), torch.tensor([0.0, 1.0]))
    with pytest.raises((DomainError, NaNError), match="PyTorch"):
        m.update(torch.tensor([0.5, 0.5]), torch.tensor([2.0, 1.0]))
    with pytest.raises(NaNError, match="PyTorch") as err:  # the metric takes no strict=
        m.update(torch.tensor([0.5, math.nan]), torch.tensor([0.0, 1.0]))
    assert (
        "strict=True" not in str(err.value)
        and "update a bcelab.metrics.BinaryStats" in err.value.fix
    )
    assert m.stats.rows == 2  # the failed updates left the state unchanged


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"n_calibration_bins": 15.7}, "n_calibration_bins must be an integer"),
        ({"n_calibration_bins": 0}, "n_calibration_bins must be an integer"),
        ({"threshold": 1.5}, "threshold must be an exact bin edge"),
        ({"threshold": "high"}, "threshold must be a number"),
        ({"logits": "no"}, "logits must be True or False"),  # text was read as logits=True
    ],
)
def test_options_are_checked_when_the_metric_is_made(option: dict, match: str) -> None:
    # not at the first compute(), after an epoch of updates (15.7 was read as 15)
    with pytest.raises(OptionError, match=match):
        bt.StreamingBinaryMetrics(**option)


WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
    import bcelab.torch as bt

    def run(rank, world, port, out):
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(port)
        dist.init_process_group("gloo", rank=rank, world_size=world)
        rng = np.random.default_rng(100 + rank)
        n = 300 + 200 * rank  # different sizes per rank
        y = (rng.random(n) < 0.3).astype(np.float32)
        x = (rng.normal(size=n) + 2.0 * (y - 0.5)).astype(np.float32)
        m = bt.StreamingBinaryMetrics(logits=True, kernel="numpy")  # no numba compile per process
        m.update(torch.from_numpy(x), torch.from_numpy(y))
        got = m.compute().to_dict()          # all-reduced (a process group is up)
        local = m.compute(sync=False).to_dict()
        np.savez(os.path.join(out, f"rank{rank}.npz"), x=x, y=y)
        with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
            json.dump({"synced": got, "local": local}, f, default=float)
        dist.barrier()
        dist.destroy_process_group()

    if __name__ == "__main__":
        port, out = int(sys.argv[1]), sys.argv[2]
        mp.spawn(run, args=(2, port, out), nprocs=2, join=True)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_gloo_processes_all_reduce_the_state(tmp_path: Path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    proc = subprocess.run(
        [sys.executable, str(script), str(_free_port()), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    data = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    # Reference: one BinaryStats fed the rows of both ranks in one process.
    xs = np.concatenate([d["x"] for d in data])
    ys = np.concatenate([d["y"] for d in data])
    ref = BinaryStats().update(xs, ys, logits=True).compute().to_dict()
    for r in range(2):
        for k in KEYS:
            assert res[r]["synced"][k] == pytest.approx(ref[k], rel=1e-12), (r, k)
    assert res[0]["local"]["rows"] == 300 and res[1]["local"]["rows"] == 500
    assert res[0]["synced"]["rows"] == 800


def test_targets_outside_0_1_advise_what_the_metric_supports():
    # the metric takes no strict=: the advice names the class that excludes and counts
    m = bt.StreamingBinaryMetrics()
    with pytest.raises(DomainError) as err:
        m.update(torch.tensor([0.2, 0.7]), torch.tensor([0.0, 2.0]))
    assert "strict=True" not in str(err.value) and "pass strict=False" not in err.value.fix
    assert err.value.fix.endswith(
        "update a bcelab.metrics.BinaryStats (strict=False, its default) with the same arrays"
    )
