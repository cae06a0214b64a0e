"""Per-epoch metrics: the shortcuts for 0/1 targets give exactly the core's values."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bcelab._core import formulas  # noqa: E402
from bcelab.train.metrics import SIGMOID_HALF_FROM, hard_bce_values, splits_metrics  # noqa: E402
from bcelab.train.objectives import Objective, fast_torch  # noqa: E402

EDGE = [0.0, -0.0, 1e-45, -1e-45, 1e-8, -1e-8, 2.0**-25, -(2.0**-25), 15.0, -15.0, 88.0]
EDGE += [-88.0, 104.0, -104.0, 3.4e38, -3.4e38]


def _floats_around(x: float, half_width: int) -> torch.Tensor:
    """Every float32 within ``half_width`` bit patterns of ``x`` (same sign)."""
    b = int(np.float32(x).view(np.int32))
    bits = np.arange(b - half_width, b + half_width + 1, dtype=np.int32)
    return torch.from_numpy(bits.view(np.float32).copy())


def _sigmoid_correctly_rounded(z: torch.Tensor) -> torch.Tensor:
    """``formulas.sigmoid`` with every float32 operation correctly rounded: each one in
    float64, then rounded to float32 (float64 carries enough bits for that to be exact
    for ``+`` and ``/``; for ``exp`` it is off only within 1e-16 of a float32 midpoint)."""
    z64 = z.double()
    num = torch.exp(torch.clamp(z64, max=0.0)).float().double()
    den = (1.0 + torch.exp(-z64.abs()).float().double()).float().double()
    return (num / den).float()


def test_sigmoid_half_threshold_equals_the_sigmoid_comparison() -> None:
    """``z >= SIGMOID_HALF_FROM`` is ``sigmoid(z) >= 0.5`` for every float32 near the
    boundary (and at the usual edges), with correctly rounded float32 operations."""
    near = _floats_around(SIGMOID_HALF_FROM, 1 << 21)
    tiny = -_floats_around(2.0**-40, 1 << 20).abs()  # tiny negatives: sigmoid rounds to 1/2
    special = torch.tensor([float("inf"), -float("inf"), float("nan"), *EDGE])
    g = torch.Generator().manual_seed(0)
    noise = [torch.randn(100_000, generator=g) * 10, torch.randn(100_000, generator=g) * 1e-7]
    z = torch.cat([near, tiny, special, *noise])
    got = z >= SIGMOID_HALF_FROM
    assert torch.equal(got, _sigmoid_correctly_rounded(z) >= 0.5)
    assert bool(_sigmoid_correctly_rounded(torch.tensor([SIGMOID_HALF_FROM])) == 0.5)
    below = torch.nextafter(torch.tensor([SIGMOID_HALF_FROM]), torch.tensor([-1.0]))
    assert bool(_sigmoid_correctly_rounded(below) < 0.5)


def test_torch_sigmoid_differs_from_the_threshold_only_next_to_it() -> None:
    """torch's float32 ``exp`` is within 1 ulp, not always correctly rounded (its AVX-512
    kernels return 1 - 2**-24 for exp(-2.7e-8)), which moves the point where the core's
    sigmoid, run on torch, reaches 0.5: the threshold (the same on every machine) and
    ``sigmoid(z) >= 0.5`` on torch may then disagree, but only for logits next to it."""
    from array_api_compat import torch as compat

    z = torch.cat([_floats_around(SIGMOID_HALF_FROM, 1 << 21), torch.randn(100_000) * 10])
    got = z >= SIGMOID_HALF_FROM
    for xp in (fast_torch(), compat):
        differ = z[got != (formulas.sigmoid(xp, z) >= 0.5)]
        assert bool(((differ > -3.3e-8) & (differ < -2.6e-8)).all()), differ[:5]


def test_hard_bce_values_equal_the_core_bit_for_bit() -> None:
    z = torch.cat([torch.tensor(EDGE), torch.randn(20_000) * 9, torch.randn(2000) * 1e-6])
    z = z.to(torch.float32)
    for y0 in (0.0, 1.0, None):
        y = torch.randint(0, 2, z.shape).float() if y0 is None else torch.full_like(z, y0)
        want = Objective("bce").values(z, y, finite=True)
        assert torch.equal(hard_bce_values(z, y), want)
        assert torch.equal(want, Objective("bce").values(z, y))


def test_binary_shortcut_gives_the_same_metrics() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 300, 1, generator=g) * 4
    y = torch.randint(0, 2, (7, 300, 1), generator=g).float()
    zt = torch.randn(7, 200, 1, generator=g)
    yt = torch.randint(0, 2, (200, 1), generator=g).float()
    parts = [("train", z, y, None), ("test", zt, yt, None)]
    a = splits_metrics(parts, objective=Objective("bce"), hard=True)
    b = splits_metrics(parts, objective=Objective("bce"), hard=True, binary=True)
    assert a.keys() == b.keys() == {"train_loss", "train_acc", "test_loss", "test_acc"}
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # non-finite logits: the guarded core path is taken, accuracy as before
    z[0, 0, 0] = float("inf")
    z[1, 0, 0] = float("nan")
    a = splits_metrics(parts, objective=Objective("bce"), hard=True)
    b = splits_metrics(parts, objective=Objective("bce"), hard=True, binary=True)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("sizes", [(333, 171), (500, 500), (77,)])
def test_split_means_equal_each_part_on_its_own(k: int, soft: bool, sizes) -> None:
    """Each part's mean (float64 once for all parts, one reduction when the parts have
    one size, accuracy as a count) equals the mean of that part computed alone, bit
    for bit."""
    g = torch.Generator().manual_seed(k)
    parts = []
    for name, n in zip(("train", "test"), sizes, strict=False):
        z = torch.randn(5, n, k, generator=g) * 3
        y = torch.rand(5, n, k, generator=g) if soft else torch.randint(0, 2, (5, n, k)).float()
        parts.append((name, z, y, 0.25 if soft else None))
    for obj in (Objective("bce"), Objective("focal")):
        got = splits_metrics(parts, objective=obj, hard=not soft, binary=not soft)
        for name, z, y, _ in parts:
            v = obj.values(z, y).reshape(5, -1)
            want = torch.mean(v, dim=1, dtype=torch.float64).numpy()
            np.testing.assert_array_equal(got[f"{name}_loss"], want)
            if not soft:
                acc = (formulas.sigmoid(fast_torch(), z) >= 0.5) == (y >= 0.5)
                want = torch.mean(acc.reshape(5, -1), dim=1, dtype=torch.float64).numpy()
                np.testing.assert_array_equal(got[f"{name}_acc"], want)


def test_helper_runs_with_the_callers_torch_thread_count(monkeypatch) -> None:
    """Work handed to the helper thread sets that thread's torch (OpenMP) thread count
    to the caller's: a new thread would otherwise use every core."""
    import threading

    from bcelab.train import alloc

    seen: list[tuple[str, int]] = []
    real = torch.set_num_threads
    monkeypatch.setattr(
        torch,
        "set_num_threads",
        lambda n: (seen.append((threading.current_thread().name, n)), real(n)),
    )
    old = torch.get_num_threads()
    try:
        real(1)
        name = alloc.on_helper(lambda a: threading.current_thread().name + a, "!").result()
    finally:
        real(old)
    assert name.startswith("bcelab-shuffle") and name.endswith("!")
    assert (name[:-1], 1) in seen


def test_extra_metrics_cannot_replace_a_built_in_one_or_return_the_wrong_shape() -> None:
    from bcelab.errors import OptionError, ShapeError
    from bcelab.train import builtin, fit

    ds = builtin("circles")
    per_seed = {"mean_logit": lambda z, y: z.mean(dim=(1, 2))}
    # a metric named "loss" used to overwrite train_loss and test_loss with its own values
    with pytest.raises(OptionError, match=r"received the name 'loss'"):
        fit(None, ds, epochs=1, metrics={"loss": per_seed["mean_logit"]})
    for bad, words in (([("m", len)], "received list"), ({"m": 5}, r"metrics\['m'\]")):
        with pytest.raises(OptionError, match=words):
            fit(None, ds, epochs=1, metrics=bad)
    # one number for two seeds was a ValueError from NumPy's reshape; None was NaN
    for fn, seeds, kind in (
        (lambda z, y: z.mean(), 2, "shape ()"),
        (lambda z, y: None, 1, "a NoneType"),
    ):
        with pytest.raises(ShapeError, match=rf"shape \({seeds},\); it returned {kind}"):
            fit(None, ds, epochs=1, seeds=seeds, metrics={"m": fn})
    h = fit(None, ds, epochs=1, seeds=2, metrics=per_seed)
    assert h.final["test_mean_logit"].shape == (2,)
    assert h.final["test_mean_logit"][0] != h.final["test_mean_logit"][1]
