"""The loop's trainer for an autoencoder: torch's Adam and shuffles, BCE = floor + excess per epoch.

Unlike the logits trainers (bcelab's counter-based shuffles and Keras-style
optimisers), an autoencoder trains as a plain PyTorch loop would: each epoch shuffles
with ``torch.randperm`` from its own ``torch.Generator`` seeded with ``seed``, and each
batch steps ``torch.optim.Adam`` (eps 1e-8).  Once the training pixels have been checked,
the batch loss and its gradient come from
:func:`~bcelab.train.autoencoder.spec.training_loss_and_grad` (the numbers of autograd
through :func:`bcelab.bce_with_logits`, to rounding, at a fraction of the cost); otherwise from the
checked loss and autograd.  The generator's and the optimiser's states go into the
checkpoint, so a resumed run continues bit for bit.  Every epoch reports the mean
training objective (``loss``) and, on the training and the test images, BCE, floor,
excess, excess fraction, MSE and PSNR
(:func:`~bcelab.train.autoencoder.image_metrics.evaluate_images`).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from ...errors import NaNError, OptionError, ShapeError
from ..loop import Diverged
from .image_metrics import ImageMetrics, evaluate_images, prepare_images
from .images import ImageSet
from .spec import training_loss, training_loss_and_grad

__all__ = ["AutoencoderTrainer"]

Row = dict[str, np.ndarray]


def _clone_tree(obj: Any) -> Any:
    """``obj`` with every tensor cloned and every dict, list and tuple copied; other leaves
    (numbers, strings, None: what module and optimizer state dicts hold) are shared."""
    if isinstance(obj, dict):  # an OrderedDict stays one
        return type(obj)((k, _clone_tree(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone_tree(v) for v in obj)
    clone = getattr(obj, "clone", None)
    return obj.detach().clone() if clone is not None and hasattr(obj, "detach") else obj


def _row(values: dict[str, float]) -> Row:
    return {k: np.array([v]) for k, v in values.items()}


class AutoencoderTrainer:
    """Train ``net`` (images ``(B, C, H, W)`` to logits of the same shape) on ``data``."""

    loss_key = "loss"
    final_loss_key = "train_bce"

    def __init__(
        self,
        net: Any,
        data: ImageSet,
        *,
        batch_size: int,
        lr: float,
        loss: str,
        seed: int,
        config: dict[str, Any],
    ) -> None:
        import torch  # optional dependency (bcelab[train])

        params = list(net.parameters())
        if not params:
            raise OptionError(
                "a model with trainable parameters",
                "received a module with none",
                "add layers with weights, or use AutoencoderSpec('dense')",
            )
        other = sorted({str(p.dtype) for p in params if p.dtype != torch.float32})
        if other:
            raise OptionError(
                "a model whose parameters are float32, as the images are",
                f"received a module with {', '.join(other)} parameters",
                "convert it with model.float(), or use AutoencoderSpec('dense')",
            )
        device = params[0].device
        self.net, self.seeds, self.config = net, [seed], config
        self.batch_size, self.lr, self.loss = batch_size, lr, loss
        self.train_images = torch.as_tensor(data.train, device=device)
        self.test_images = torch.as_tensor(data.test, device=device)
        with torch.no_grad():
            probe = net(self.test_images[:1])
        if tuple(probe.shape) != tuple(self.test_images[:1].shape):
            raise ShapeError(
                "the model must map images (B, C, H, W) to logits of the same shape",
                f"received logits of shape {tuple(probe.shape)} for images of shape "
                f"{tuple(self.test_images[:1].shape)}",
                "end the model with a layer of that shape",
            )
        # each epoch evaluates both splits; their floors are computed once, here
        self.eval_sets = {
            "train": prepare_images(self.train_images),
            "test": prepare_images(self.test_images),
        }
        self.opt = torch.optim.Adam(net.parameters(), lr=lr)
        self.gen = torch.Generator().manual_seed(seed)
        #: after training: the final train and test metrics and the test per-pixel KL map
        self.final: tuple[ImageMetrics, ImageMetrics, np.ndarray] | None = None

    def train_epoch(self, epoch: int) -> float:
        """One pass over a fresh shuffle; returns the batch-size-weighted mean objective."""
        import torch  # optional dependency (bcelab[train])

        net, opt, train = self.net, self.opt, self.train_images
        net.train()
        total, n = 0.0, train.shape[0]
        fast = self.eval_sets["train"].checked  # the pixels were checked once, up front
        for idx in torch.randperm(n, generator=self.gen).to(train.device).split(self.batch_size):
            xb = train[idx]
            logits = net(xb)
            pair = training_loss_and_grad(self.loss, logits, xb) if fast else None
            if pair is None:  # the checked loss and its autograd graph
                value = self._checked_loss(logits, xb)
                step, root, grad = float(value.detach()), value, None
            else:  # the same value and gradient, without a graph for the loss
                (step, grad), root = pair, logits
            if not math.isfinite(step):
                raise Diverged(f"the training loss became {step}")
            opt.zero_grad()
            root.backward(grad)
            opt.step()
            total += step * xb.shape[0]
        return total / n

    def _checked_loss(self, logits: Any, images: Any) -> Any:
        try:
            return training_loss(self.loss, logits, images)
        except NaNError as e:  # NaN logits, caught by the loss's input validation
            raise Diverged(f"the logits of a training batch were NaN ({e.received})") from None

    def _metrics(self, *, per_pixel: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for split, images in self.eval_sets.items():
            out[split] = evaluate_images(self.net, images, per_pixel=per_pixel and split == "test")
        return out

    def evaluate(self, result: float) -> Row:
        row: dict[str, float] = {"loss": result}
        for split, (metrics, _) in self._metrics().items():
            row.update({f"{split}_{k}": v for k, v in metrics.as_dict().items()})
        return _row(row)

    def final_metrics(self) -> Row:
        done = self._metrics(per_pixel=True)
        (tr, _), (te, kl_map) = done["train"], done["test"]
        self.final = (tr, te, kl_map)
        row: dict[str, float] = {}
        for split, m in (("train", tr), ("test", te)):
            row.update({f"{split}_{k}": v for k, v in m.as_dict().items()})
        return _row(row)

    def get_state(self) -> dict[str, Any]:
        """A copy of the weights, Adam's state and the shuffle generator (taken every epoch,
        so its tensors are cloned directly: ``copy.deepcopy`` costs ten times as much)."""
        module = self.net.state_dict()
        copied = _clone_tree(module)
        copied._metadata = copy.deepcopy(getattr(module, "_metadata", None))  # for load_state_dict
        return {
            "module": copied,
            "opt": _clone_tree(self.opt.state_dict()),
            "generator": self.gen.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["module"])
        self.opt.load_state_dict(copy.deepcopy(state["opt"]))  # it keeps the tensors given
        self.gen.set_state(state["generator"])

    def model_state(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def rng_state(self, next_epoch: int) -> dict[str, Any]:
        """The shuffles come from a torch.Generator whose state is in the checkpoint's state."""
        return {"kind": "torch-generator", "seeds": self.seeds, "next_epoch": next_epoch}

    def describe(self) -> str:
        return f"optimizer adam, lr {self.lr:g}"

    def artifacts(self) -> dict[str, Any]:
        """No more files: an image model is rebuilt from its spec in summary.json."""
        return {}

    def advice(self) -> str:
        return f"lower the learning rate (e.g. lr={self.lr / 10:g}) or check the images"
