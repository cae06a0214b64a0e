"""The autoencoder in the shared loop: checkpoint, resume bit for bit, Ctrl-C keeps the epochs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bcelab.errors import OptionError
from bcelab.train.autoencoder.images import ImageSet, load_digits
from bcelab.train.autoencoder.spec import AutoencoderSpec, build_seeded
from bcelab.train.autoencoder.training import AutoencoderResult, fit_autoencoder

FAST = {"batch_size": 32, "threads": 1, "seed": 2}


@pytest.fixture(scope="module")
def small() -> ImageSet:
    """256 training and 64 test digits: 8 steps per epoch."""
    d = load_digits()
    return ImageSet(d.train[:256], d.test[:64], d.source, d.scaling)


def _same_run(a: AutoencoderResult, b: AutoencoderResult) -> None:
    assert a.history.epochs == b.history.epochs
    for name, v in a.history.metrics.items():
        np.testing.assert_array_equal(v, b.history.metrics[name], err_msg=name)
    for k, v in a.history.model_state.items():
        assert torch.equal(v, b.history.model_state[k]), k
    assert a.test == b.test
    np.testing.assert_array_equal(a.reconstructions, b.reconstructions)


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_resume_from_the_run_folder_equals_an_uninterrupted_run(small, tmp_path, loss) -> None:
    full = fit_autoencoder(small, AutoencoderSpec(), epochs=4, loss=loss, **FAST)
    first = fit_autoencoder(small, AutoencoderSpec(), epochs=2, loss=loss, out=tmp_path, **FAST)
    assert {"checkpoint.pt", "model.pt", "history.json", "summary.json"} <= {
        p.name for p in tmp_path.iterdir()
    }
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["rng"]["next_epoch"] == 2 and {"module", "opt", "generator"} <= set(ck["state"])
    resumed = fit_autoencoder(
        small, AutoencoderSpec(), epochs=4, loss=loss, resume=tmp_path, **FAST
    )
    assert first.history.epochs == 2 and not resumed.interrupted
    _same_run(resumed, full)


def test_resume_refuses_other_options(small, tmp_path) -> None:
    fit_autoencoder(small, AutoencoderSpec(), epochs=1, out=tmp_path, **FAST)
    with pytest.raises(OptionError, match="lr"):
        fit_autoencoder(small, AutoencoderSpec(), epochs=2, lr=1e-2, resume=tmp_path, **FAST)
    with pytest.raises(OptionError, match="seeds"):
        fit_autoencoder(small, AutoencoderSpec(), epochs=2, resume=tmp_path, **{**FAST, "seed": 3})


def test_resume_refuses_a_run_of_another_kind_of_model(small, tmp_path) -> None:
    # it named every option that differed (model, data, sizes, optimizer) in one long line
    from bcelab.train import builtin, fit

    fit_autoencoder(small, AutoencoderSpec(), epochs=1, out=tmp_path / "ae", **FAST)
    fit(None, builtin("circles"), epochs=1, out=tmp_path / "mlp")
    with pytest.raises(OptionError, match="the run trained an MLP, this call trains an autoenc"):
        fit_autoencoder(small, AutoencoderSpec(), epochs=2, resume=tmp_path / "mlp", **FAST)
    with pytest.raises(OptionError, match="resume it with fit_autoencoder") as e:
        fit(None, builtin("circles"), epochs=2, resume=tmp_path / "ae")
    assert "optimizer" not in str(e.value)


class _Interrupted(torch.nn.Module):
    """The seeded dense autoencoder; Ctrl-C at the ``at``-th training forward call."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__()
        self.inner = build_seeded(AutoencoderSpec(), (1, 8, 8), 0)
        self.calls, self.at = 0, at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
        return self.inner(x)  # type: ignore[no-any-return]


def test_ctrl_c_keeps_finished_epochs_and_resumes_bit_for_bit(small) -> None:
    one = fit_autoencoder(small, _Interrupted(), epochs=1, **FAST)
    full = fit_autoencoder(small, _Interrupted(), epochs=3, **FAST)
    # the probe, the 8 steps of epoch 1, then the third step of epoch 2
    cut = fit_autoencoder(small, _Interrupted(at=1 + 8 + 3), epochs=3, **FAST)
    assert cut.interrupted and cut.history.epochs == 1
    assert cut.history.stop_reason == "interrupted after epoch 1"
    # the weights went back to the end of epoch 1: the same as a 1-epoch run
    for k, v in one.history.model_state.items():
        assert torch.equal(v, cut.history.model_state[k]), k
    assert cut.test == one.test
    resumed = fit_autoencoder(small, _Interrupted(), epochs=3, resume=cut.checkpoint, **FAST)
    _same_run(resumed, full)
