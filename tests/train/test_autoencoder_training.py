"""Training autoencoders: BCE = floor + excess every epoch, kl == bce in weights, the floor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bcelab.errors import NaNError, OptionError, ShapeError
from bcelab.train.autoencoder.image_metrics import METRIC_NAMES, evaluate_images
from bcelab.train.autoencoder.images import ImageSet, from_array, load_digits
from bcelab.train.autoencoder.spec import AutoencoderSpec, build_autoencoder
from bcelab.train.autoencoder.training import fit_autoencoder, history_rows
from bcelab.train.loop import DivergedError

FAST = {"epochs": 3, "batch_size": 32, "threads": 1}


@pytest.fixture(scope="module")
def small() -> ImageSet:
    """A slice of the digits: 256 training and 96 test images (keeps each run well under 1 s)."""
    d = load_digits()
    return ImageSet(d.train[:256], d.test[:96], d.source, d.scaling)


@pytest.fixture(scope="module")
def bce_run(small: ImageSet):  # type: ignore[no-untyped-def]
    return fit_autoencoder(small, AutoencoderSpec(), seed=3, loss="bce", **FAST)


def test_floor_plus_excess_is_bce_every_epoch(bce_run) -> None:  # type: ignore[no-untyped-def]
    rows = history_rows(bce_run.history)
    assert len(rows) == FAST["epochs"]
    for row in rows:
        for split in ("train", "test"):
            bce, floor, excess = (row[f"{split}_{k}"] for k in ("bce", "floor", "excess"))
            assert excess > 0 and floor > 0
            assert floor + excess == pytest.approx(bce, rel=1e-12, abs=1e-15)
            assert row[f"{split}_excess_fraction"] == pytest.approx(excess / bce, rel=1e-12)
            assert row[f"{split}_psnr"] == pytest.approx(-10 * math.log10(row[f"{split}_mse"]))
    # the History carries the floor and excess series (one row per seed)
    h = bce_run.history
    assert h["test_floor"].shape == h["test_excess"].shape == (1, FAST["epochs"])
    np.testing.assert_allclose(h["test_floor"] + h["test_excess"], h["test_bce"], rtol=1e-12)
    assert h.final["test_excess"][0] == bce_run.test.excess
    assert h.model_state is not None
    # the floor belongs to the images, not the model: the same value every epoch
    assert len({row["test_floor"] for row in rows}) == 1
    # training reduces the excess (3 epochs of Adam from a random start)
    assert rows[-1]["train_excess"] < rows[0]["train_excess"]


def test_reported_floor_is_the_mean_entropy_of_the_test_pixels(small, bce_run) -> None:  # type: ignore[no-untyped-def]
    # Independent computation: plain Python math over every pixel, H(y) = -y ln y - (1-y) ln(1-y).
    def h(y: float) -> float:
        return -sum(t * math.log(t) for t in (y, 1.0 - y) if t > 0.0)

    pixels = small.test.astype(np.float64).ravel().tolist()
    expected = math.fsum(h(y) for y in pixels) / len(pixels)
    assert bce_run.test.floor == pytest.approx(expected, rel=1e-12)
    assert history_rows(bce_run.history)[-1]["test_floor"] == pytest.approx(expected, rel=1e-12)
    assert bce_run.test.count == len(pixels)


def test_metrics_match_an_independent_numpy_evaluation(small, bce_run) -> None:  # type: ignore[no-untyped-def]
    model = bce_run.model
    with torch.no_grad():
        z = model(torch.as_tensor(small.test)).double().numpy()
    y = small.test.astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-z))
    # BCE from logits with numpy's logaddexp: softplus(-z) y + softplus(z) (1 - y)
    bce = np.mean(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z))
    assert bce_run.test.bce == pytest.approx(bce, rel=1e-6)  # logits are float32
    assert bce_run.test.mse == pytest.approx(np.mean((p - y) ** 2), rel=1e-5)
    # the per-pixel map averages to the excess
    assert bce_run.per_pixel_excess.shape == (1, 8, 8)
    assert bce_run.per_pixel_excess.mean() == pytest.approx(bce_run.test.excess, rel=1e-9)
    np.testing.assert_allclose(bce_run.reconstructions, p[:10], rtol=1e-5, atol=1e-7)


def test_kl_and_bce_runs_give_bit_identical_weights(small, bce_run) -> None:  # type: ignore[no-untyped-def]
    # kl = BCE - floor(batch); the floor is a constant, so backward passes the same
    # gradient into the BCE graph: identical float operations, hence identical bits.
    kl_run = fit_autoencoder(small, AutoencoderSpec(), seed=3, loss="kl", **FAST)
    a, b = bce_run.model.state_dict(), kl_run.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the reported objective differs by exactly the floor (to rounding)
    for rb, rk in zip(history_rows(bce_run.history), history_rows(kl_run.history), strict=True):
        assert rb["loss"] - rk["loss"] == pytest.approx(rb["train_floor"], rel=1e-9)
        assert rk["loss"] == pytest.approx(rb["loss"] - rb["train_floor"], abs=1e-9)


def test_same_seed_same_history_different_seed_differs(small, bce_run) -> None:  # type: ignore[no-untyped-def]
    again = fit_autoencoder(small, AutoencoderSpec(), seed=3, loss="bce", **FAST)
    assert history_rows(again.history) == history_rows(bce_run.history)
    other = fit_autoencoder(small, AutoencoderSpec(), seed=4, loss="bce", epochs=1, threads=1)
    assert history_rows(other.history)[0] != history_rows(bce_run.history)[0]


def test_mse_loss_still_reports_floor_and_excess(small) -> None:  # type: ignore[no-untyped-def]
    r = fit_autoencoder(small, seed=0, loss="mse", epochs=1, threads=1)
    row = history_rows(r.history)[0]
    assert row["test_floor"] + row["test_excess"] == pytest.approx(row["test_bce"], rel=1e-12)
    assert row["loss"] > 0 and row["loss"] < 0.25  # a mean squared error of values in [0, 1]


def test_dense_model_is_64_32_16_32_64() -> None:
    m = build_autoencoder(AutoencoderSpec(), (1, 8, 8))
    shapes = [tuple(p.shape) for n, p in m.named_parameters() if n.endswith("weight")]
    assert shapes == [(32, 64), (16, 32), (32, 16), (64, 32)]
    assert m(torch.zeros(2, 1, 8, 8)).shape == (2, 1, 8, 8)


@pytest.mark.parametrize("hw", [(16, 16), (17, 23), (28, 28)])
def test_conv_model_maps_images_to_logits_of_the_same_shape(hw: tuple[int, int]) -> None:
    m = build_autoencoder(AutoencoderSpec("conv"), (3, *hw))
    assert m(torch.zeros(2, 3, *hw)).shape == (2, 3, *hw)


def test_conv_run_on_16x16_images() -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(24, 16, 16), dtype=np.uint8)
    r = fit_autoencoder(from_array(x), AutoencoderSpec("conv"), epochs=2, threads=1)
    assert r.per_pixel_excess.shape == (1, 16, 16)
    row = history_rows(r.history)[-1]
    assert row["test_floor"] + row["test_excess"] == pytest.approx(row["test_bce"], rel=1e-12)


def test_conv_refuses_small_images(small) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OptionError, match="8x8"):
        fit_autoencoder(small, AutoencoderSpec("conv"), epochs=1)


def test_any_module_mapping_images_to_logits(small) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 64),
        torch.nn.Unflatten(1, (1, 8, 8)),
    )
    r = fit_autoencoder(small, net, epochs=1, threads=1)
    assert r.model is net
    assert set(METRIC_NAMES) <= {k[5:] for k in history_rows(r.history)[0] if k.startswith("test_")}
    with pytest.raises(ShapeError, match="same shape"):
        fit_autoencoder(small, torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)))
    with pytest.raises(OptionError, match="parameters"):
        fit_autoencoder(small, torch.nn.Identity(), epochs=1)
    with pytest.raises(OptionError, match="AutoencoderSpec"):
        fit_autoencoder(small, "dense", epochs=1)  # type: ignore[arg-type]


class _NaNAfterFirstEpoch(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * self.w * (float("nan") if self.training and self.calls > 12 else 1.0)


def test_divergence_names_the_epoch(small) -> None:  # type: ignore[no-untyped-def]
    # 256 images / 32 = 8 steps per epoch (+ probe/eval calls): NaN logits appear in epoch 2
    with pytest.raises(NaNError, match="epoch 2") as e:
        fit_autoencoder(small, _NaNAfterFirstEpoch(), epochs=3)
    assert "lr=" in str(e.value) and "--lr" not in str(e.value)
    assert isinstance(e.value, DivergedError)  # the loop's error, as for fit
    assert e.value.history.epochs == 1  # the completed epoch is kept


@pytest.mark.parametrize(
    "kw",
    [
        {"epochs": 0},
        {"batch_size": 0},
        {"lr": 0.0},
        {"lr": float("nan")},
        {"lr": 1e300},  # was torch's RuntimeError in the first step
        {"loss": "hinge"},
        {"threads": 0},
        {"seed": -1},
        {"n_show": -1},  # was accepted: it showed all test images but the last
        {"n_show": "a"},  # was a TypeError from the slice, after training
        {"on_epoch": 5},  # was a TypeError after the first epoch
    ],
)
def test_bad_options(small, kw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OptionError) as e:
        fit_autoencoder(small, **kw)
    name = next(iter(kw))
    assert f"{name}=" in str(e.value) and "--" not in str(e.value)  # Python words, no flags


def test_evaluate_streams_in_batches(small, bce_run) -> None:  # type: ignore[no-untyped-def]
    x = torch.as_tensor(small.test)
    whole, _ = evaluate_images(bce_run.model, x)
    pieces, kl = evaluate_images(bce_run.model, x, batch_size=7, per_pixel=True)
    assert pieces.count == whole.count
    assert pieces.floor == pytest.approx(whole.floor, rel=1e-13)  # data only
    for k in ("bce", "excess", "mse"):  # float32 logits may differ in the last bit by batch size
        assert getattr(pieces, k) == pytest.approx(getattr(whole, k), rel=1e-6)
    assert kl is not None and kl.mean() == pytest.approx(whole.excess, rel=1e-9)


def test_the_shared_trainer_fits_an_autoencoder_module(small) -> None:  # type: ignore[no-untyped-def]
    # bcelab.train.fit (the classifier trainer) takes any module mapping images to logits;
    # with y = x its History carries the floor and excess series of the images.
    from bcelab.train import fit

    torch.manual_seed(0)
    net = AutoencoderSpec().build(small.image_shape)
    from bcelab.train.autoencoder.image_metrics import mse_metric

    h = fit(
        net,
        small.to_dataset(),
        optimizer="adam",
        lr=1e-3,
        epochs=2,
        threads=1,
        metrics={"mse": mse_metric},
    )
    floor = h["test_floor"][0]
    excess, bce = h["test_excess"][0], h["test_bce"][0]
    assert floor.shape == (2,)
    # the trainer's per-element values are float32, so the identity holds to float32 rounding
    np.testing.assert_allclose(floor + excess, bce, rtol=1e-6)
    mine, _ = evaluate_images(net, torch.as_tensor(small.test))  # the trained module
    assert floor[-1] == pytest.approx(mine.floor, rel=1e-12)
    assert excess[-1] == pytest.approx(mine.excess, rel=1e-6)
    assert h["test_mse"][0][-1] == pytest.approx(mine.mse, rel=1e-6)


class _CtrlCInSecondEpoch(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(64, 64)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.training and self.calls == 13:  # probe, 8 steps, 2 evaluations, then epoch 2
            raise KeyboardInterrupt
        return self.lin(x.flatten(1)).reshape(x.shape)


def test_ctrl_c_keeps_the_completed_epochs(small) -> None:  # type: ignore[no-untyped-def]
    r = fit_autoencoder(small, _CtrlCInSecondEpoch(), epochs=5)
    assert r.interrupted
    assert [row["epoch"] for row in history_rows(r.history)] == [1.0]
    assert r.per_pixel_excess.shape == (1, 8, 8)


def test_fit_takes_an_autoencoder_spec_and_an_imageset(small) -> None:  # type: ignore[no-untyped-def]
    # bcelab.train.fit trains an AutoencoderSpec on an ImageSet directly;
    # the spec is initialised from `seed` alone, so two calls give the same weights.
    from bcelab.train import AutoencoderSpec as PublicSpec
    from bcelab.train import ImageSet, fit

    assert PublicSpec is AutoencoderSpec and isinstance(small, ImageSet)
    kw = {"optimizer": "adam", "lr": 1e-3, "epochs": 2, "threads": 1, "seed": 5}
    torch.manual_seed(123)  # the global RNG must not matter
    a = fit(AutoencoderSpec(), small, **kw)  # type: ignore[arg-type]
    torch.manual_seed(456)
    b = fit(AutoencoderSpec(), small, **kw)  # type: ignore[arg-type]
    for k, v in a.model_state.items():
        assert torch.equal(v, b.model_state[k]), k
    floor, excess, bce = a["test_floor"][0], a["test_excess"][0], a["test_bce"][0]
    assert floor.shape == (2,)
    np.testing.assert_allclose(floor + excess, bce, rtol=1e-6)
    # the floor is the mean binary entropy of the test pixels, computed independently
    x = small.test.astype(np.float64).ravel()
    inner = x[(x > 0) & (x < 1)]
    h = -(inner * np.log(inner) + (1 - inner) * np.log1p(-inner)).sum() / x.size
    assert floor[-1] == pytest.approx(h, rel=1e-12)
    c = fit(AutoencoderSpec(), small, **{**kw, "seed": 6})  # type: ignore[arg-type]
    assert any(not torch.equal(v, c.model_state[k]) for k, v in a.model_state.items())


def test_fit_rejects_an_autoencoder_spec_on_tabular_data() -> None:
    from bcelab.errors import OptionError
    from bcelab.train import builtin, fit

    with pytest.raises(OptionError, match="AutoencoderSpec trains on images"):
        fit(AutoencoderSpec(), builtin("circles"), epochs=1)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (AutoencoderSpec(hidden=(8.5,)), "received hidden=(8.5,)"),  # was torch's TypeError
        (AutoencoderSpec(hidden="ab"), "received hidden='ab'"),  # was a TypeError from min
        (AutoencoderSpec(hidden=()), "received hidden=()"),
        (AutoencoderSpec("conv", channels=(0, 4)), "received channels=(0, 4)"),  # RuntimeError
        (AutoencoderSpec("conv", channels=(16,)), "received channels=(16,)"),
    ],
)
def test_bad_layer_widths_are_option_errors(spec: AutoencoderSpec, words: str) -> None:
    with pytest.raises(OptionError) as e:
        build_autoencoder(spec, (1, 16, 16))
    text = str(e.value)
    assert words in text and "must be a tuple of" in text and "use e.g." in text


def test_a_float64_module_is_refused_before_training(small) -> None:  # type: ignore[no-untyped-def]
    # was torch's "mat1 and mat2 must have the same dtype" RuntimeError in the probe
    net = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 64), torch.nn.Unflatten(1, (1, 8, 8))
    ).double()
    with pytest.raises(OptionError) as e:
        fit_autoencoder(small, net, epochs=1)
    text = str(e.value)
    assert "parameters are float32" in text and "torch.float64" in text
    assert "model.float()" in text
