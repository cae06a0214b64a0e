"""The precompiled paired bootstrap kernels (bcelab.kernels.bootstrap_aot): the same state
and the same ``bcelab compare`` JSON as the numba JIT kernels, bit for bit, no numba
import in a process that has them, and a safe fallback to the JIT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")
bootstrap = pytest.importorskip("bcelab.kernels.bootstrap")

from bcelab.cli import main  # noqa: E402
from bcelab.kernels import aot, bootstrap_aot  # noqa: E402
from bcelab.kernels.bootstrap_rng import thresholds  # noqa: E402
from bcelab.metrics import PairedBootstrapStats  # noqa: E402

from .aot_helpers import use_aot  # noqa: E402


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    aot.reset()
    yield
    aot.reset()


def _cases() -> Iterator[tuple[str, dict[str, object], dict[str, object]]]:
    """(name, update arguments, constructor arguments): both dtypes, weights (with
    zeros, and large ones for the high words), logits with NaN and bad targets, soft
    labels, clipping, several blocks, an odd and an even replicate count."""
    rng = np.random.default_rng(11)
    for n in (1, 3000, 20_001):
        for dt in (np.float32, np.float64):
            y = (rng.random(n) < 0.3).astype(dt)
            pa, pb = rng.random(n).astype(dt), rng.random(n).astype(dt)
            ids = rng.permutation(4 * n)[:n]
            yield f"hard-{n}-{dt.__name__}", {"preds_a": pa, "preds_b": pb, "targets": y}, {}
            if n == 1:
                continue
            w = rng.exponential(size=n).astype(dt)
            w[::97] = 0.0
            w[::89] = 300.0  # weighted values of 256 or more use the high words
            soft = rng.random(n).astype(dt)
            args = {"preds_a": pa, "preds_b": pb, "targets": soft, "weights": w, "ids": ids}
            yield f"soft-w-{n}-{dt.__name__}", args, {"replicates": 41, "seed": 5}
            za = (rng.standard_normal(n) * 4).astype(dt)
            zb = (za + rng.standard_normal(n)).astype(dt)
            za[::113] = np.nan
            yb = y.copy()
            yb[::131] = 2.0
            args = {"preds_a": za, "preds_b": zb, "targets": yb, "logits": True}
            yield f"logits-{n}-{dt.__name__}", args, {"seed": 123_456_789}
            pc = pa.copy()
            pc[::7], pc[::11] = 0.0, 1.0
            args = {"preds_a": pc, "preds_b": pb, "targets": y, "clip": 1e-6}
            yield f"clip-{n}-{dt.__name__}", args, {}


CASES = list(_cases())


def _no_fallback() -> None:
    raise AssertionError("the precompiled kernels handed a call to the JIT")


def test_aot_states_equal_jit(aot_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one test for both thread counts: two tests in two workers compiled the same JIT
    # kernels side by side on a cold cache
    real_jit = bootstrap_aot._jit
    for threads, (name, kw, ctor) in ((t, case) for t in (1, 2) for case in CASES):
        states = []
        for enabled in (True, False):
            use_aot(monkeypatch, aot_dir, enabled=enabled)
            # every call must run the precompiled kernels: none may fall back to the JIT
            monkeypatch.setattr(bootstrap_aot, "_jit", _no_fallback if enabled else real_jit)
            kernels = bootstrap_aot.paired_kernels()
            assert isinstance(kernels, bootstrap_aot.AotBootstrap) == enabled
            opts = {"replicates": 40, **ctor}
            s = PairedBootstrapStats(kernel="compiled", threads=threads, **opts)  # type: ignore[arg-type]
            s.update(**kw)  # type: ignore[arg-type]
            s.update(**kw)  # type: ignore[arg-type]
            states.append(s.to_bytes())
        assert states[0] == states[1], name


def test_unexpected_arrays_go_to_the_jit(aot_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated wrappers trust dtypes and layouts; anything else must take the JIT path."""
    use_aot(monkeypatch, aot_dir)
    kernels = bootstrap_aot.paired_kernels()
    assert isinstance(kernels, bootstrap_aot.AotBootstrap)
    rng = np.random.default_rng(4)
    kk = rng.integers(0, 2**63, 300, dtype=np.int64).view(np.uint64)
    valid = np.ones(300, dtype=np.uint8)
    thr = (thresholds() - (1 << 31)).astype(np.int32)
    got = np.zeros((300, 24), dtype=np.int8)[:, ::2]  # not contiguous: not an exported layout
    want = np.zeros((300, 12), dtype=np.int8)
    kernels.draw_block(kk, valid, 0, 11, thr, got)
    bootstrap.draw_block(kk, valid, 0, 11, thr, want)
    assert np.array_equal(got, want)
    assert got[:, :11].sum() > 0


_CHILD = """
import sys
from bcelab.cli import main
rc = main(sys.argv[1:])
sys.stderr.write(f"\\nnumba imported: {'numba' in sys.modules}\\n")
sys.exit(rc)
"""


def test_fresh_process_compares_without_numba(
    aot_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fresh process's JSON is this process's, bit for bit; that the precompiled
    kernels equal the JIT's is :func:`test_aot_states_equal_jit`'s (a second process
    with the JIT kernels would compile them again when that test has not cached them)."""
    pq = pytest.importorskip("pyarrow.parquet")
    from bcelab.evaluation.example_data import two_models

    path = tmp_path / "two.parquet"
    pq.write_table(two_models(30_000, seed=3), path, row_group_size=8192)
    cmd = ["compare", str(path), "--target", "y", "--pred", "a", "--pred", "b", "--by", "segment"]
    cmd += ["--replicates", "40", "--threads", "2", "--json"]
    env = dict(os.environ, BCELAB_CACHE_DIR=str(aot_dir), BCELAB_AOT="1")
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, *cmd], capture_output=True, text=True, env=env, check=True
    )
    assert res.stderr.strip().splitlines()[-1] == "numba imported: False"  # no JIT start-up
    use_aot(monkeypatch, aot_dir)
    assert isinstance(bootstrap_aot.paired_kernels(), bootstrap_aot.AotBootstrap)
    for module in (bootstrap_aot, aot):  # every call here runs the precompiled kernels too
        monkeypatch.setattr(module, "_jit", _no_fallback)
    capsys.readouterr()
    assert main(cmd) == 0
    assert res.stdout == capsys.readouterr().out  # the JSON, bit for bit
    assert json.loads(res.stdout)["metrics"]["log_loss"]["ci"]


@pytest.mark.parametrize("enabled", [True, False])
def test_warmup_says_where_the_paired_kernels_are(
    aot_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    enabled: bool,
) -> None:
    use_aot(monkeypatch, aot_dir, enabled=enabled)
    monkeypatch.setattr("bcelab.cli.warmup._fused_calls", lambda: None)  # not this test's
    monkeypatch.setattr("bcelab.evaluation.warmup._READY", threading.Event())
    monkeypatch.setattr("bcelab.evaluation.warmup._PAIRED_READY", threading.Event())
    compiled: list[str] = []
    if not enabled:  # the JIT kernels' compile (40 s on a cold cache) is not this test's
        for name in ("compile_metric_kernels", "compile_paired_kernels"):
            stub = lambda notice, name=name: compiled.append(name) or 0.0  # noqa: E731
            monkeypatch.setattr(f"bcelab.evaluation.warmup.{name}", stub)
    assert main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "paired bootstrap kernels" in out and "ready in" in out
    assert ("in the metric kernels' precompiled module" in out) == enabled
    if not enabled:
        assert sorted(compiled) == ["compile_metric_kernels", "compile_paired_kernels"]
