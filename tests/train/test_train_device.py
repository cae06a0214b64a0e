"""`fit(..., device=)`: where the built-in MLP trains.

On every machine: the CPU spelled three ways is the default run, bit for bit; devices
that torch cannot use here are refused at the door with the GPUs it found; checkpoints
hold CPU copies.  On a machine with a CUDA GPU (skipped elsewhere): one and many seeds
train there, close to the CPU run (the same formulas, float32 rounding on another
processor), the same seed twice gives the same run, a resumed run equals an
uninterrupted one, and the artifacts load on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bcelab.errors import OptionError  # noqa: E402
from bcelab.train import MLPSpec, builtin, fit, load_checkpoint  # noqa: E402
from bcelab.train.checks import check_device  # noqa: E402
from bcelab.train.mlp.batched import BatchedMLP  # noqa: E402
from bcelab.train.objectives import Objective  # noqa: E402
from bcelab.train.optim import Optimizer  # noqa: E402

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU and a CUDA build of torch")


@pytest.fixture(scope="module")
def circles():
    return builtin("circles")


def _same(a, b) -> None:
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
    for k in a.final:
        np.testing.assert_array_equal(a.final[k], b.final[k], err_msg=k)


@pytest.mark.parametrize("seeds", [1, 4])
def test_the_cpu_named_any_way_is_the_default_run(circles, seeds: int) -> None:
    base = fit(MLPSpec(), circles, epochs=4, seeds=seeds)
    assert "device" not in base.config  # CPU runs keep their identity
    for dev in ("cpu", torch.device("cpu"), None):
        h = fit(MLPSpec(), circles, epochs=4, seeds=seeds, device=dev)
        _same(base, h)


@pytest.mark.parametrize("bad", ["tpu", "gpu", "", "cuda:x", 3.5, object()])
def test_names_that_are_no_torch_device_are_refused(circles, bad: object) -> None:
    with pytest.raises(OptionError, match="device must") as e:
        fit(MLPSpec(), circles, epochs=1, device=bad)
    assert "device='cuda'" in str(e.value)  # how to fix it


def test_devices_other_than_cpu_and_cuda_are_refused(circles) -> None:
    with pytest.raises(OptionError, match="the CPU or a CUDA GPU"):
        fit(MLPSpec(), circles, epochs=1, device="meta")


def test_a_gpu_that_is_not_there_is_refused_before_training(circles) -> None:
    count = torch.cuda.device_count() if CUDA else 0
    with pytest.raises(OptionError, match="needs a CUDA GPU") as e:
        fit(MLPSpec(), circles, epochs=1, device=f"cuda:{count}")
    assert f"found {count} CUDA GPU" in str(e.value)
    assert torch.__version__ in str(e.value)


def test_custom_modules_train_on_the_cpu_only(circles) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    dev = "cuda" if CUDA else "cuda:0"
    with pytest.raises(OptionError, match=r"CUDA GPU|built-in MLPSpec"):
        fit(net, circles, epochs=1, device=dev)


def test_check_device_returns_a_torch_device() -> None:
    assert check_device(None, fname="f") == torch.device("cpu")
    assert check_device("cpu", fname="f") == torch.device("cpu")
    if CUDA:
        assert check_device("cuda", fname="f") == torch.device("cuda", torch.cuda.current_device())


def _engine(circles, seeds, device: str = "cpu") -> BatchedMLP:
    x = torch.from_numpy(circles.x_train).to(device)
    y = torch.from_numpy(circles.y_train).to(device)
    return BatchedMLP(
        MLPSpec(),
        seeds,
        x,
        y,
        batch_size=32,
        objective=Objective("bce"),
        optimizer=Optimizer("sgd", 0.01, 0.9),
    )


def test_checkpoint_state_is_a_cpu_copy(circles) -> None:
    eng = _engine(circles, [0, 1])
    st = eng.get_state()
    assert st["flat"].device.type == "cpu"
    assert st["flat"].data_ptr() != eng.flat.data_ptr()
    st["flat"].add_(1.0)  # changing the copy leaves the run alone
    assert not torch.equal(st["flat"], eng.flat)
    for v in st["opt"]["velocity"]:
        assert v.device.type == "cpu"
    ms = eng.model_state()
    assert all(t.device.type == "cpu" for t in ms.values())


@needs_cuda
@pytest.mark.parametrize("seeds", [1, 8])
def test_cuda_runs_are_the_cpu_runs_up_to_rounding(circles, seeds: int) -> None:
    cpu = fit(MLPSpec(), circles, epochs=10, seeds=seeds)
    gpu = fit(MLPSpec(), circles, epochs=10, seeds=seeds, device="cuda")
    assert gpu.config["device"].startswith("cuda")
    for k in cpu.metrics:
        np.testing.assert_allclose(gpu.metrics[k], cpu.metrics[k], rtol=0, atol=2e-3, err_msg=k)


@needs_cuda
def test_cuda_same_seed_same_run_and_resume_equals_uninterrupted(circles, tmp_path) -> None:
    a = fit(MLPSpec(), circles, epochs=6, seeds=3, device="cuda")
    b = fit(MLPSpec(), circles, epochs=6, seeds=3, device="cuda")
    _same(a, b)
    out = tmp_path / "run"
    fit(MLPSpec(), circles, epochs=3, seeds=3, device="cuda", out=out)
    ck = load_checkpoint(out)  # CPU tensors: loads on any machine
    assert ck["state"]["flat"].device.type == "cpu"
    c = fit(MLPSpec(), circles, epochs=6, seeds=3, device="cuda", resume=out)
    _same(a, c)


@needs_cuda
def test_cuda_run_artifacts_load_on_the_cpu(circles, tmp_path) -> None:
    out = tmp_path / "run"
    fit(MLPSpec(), circles, epochs=2, device="cuda", out=out)
    state = torch.load(out / "model.pt", weights_only=True, map_location=None)
    assert all(t.device.type == "cpu" for t in state.values())
