"""Other libraries' BCE conventions, reproduced on purpose (``convention=``).

bcelab's default, ``"exact"``, is the mathematical BCE with no clipping.  The
other conventions reproduce the number a framework prints, in the precision it
computes in, so a user can see where a difference comes from:

============  ==============================================================================
convention    what it does differently from ``"exact"``
============  ==============================================================================
``keras``     Keras 3: clips p to [1e-7, 1 - 1e-7] in float32 (1 - 1e-7 rounds to 0.99999988,
              so the clip is asymmetric), computes in float32; Keras then averages over the
              last axis (use ``reduction="per_sample"`` for that shape).
``tf_keras``  tf.keras 2.x: clips to [1e-7, 1 - 1e-7] *and* adds 1e-7 inside each log
              (epsilon applied twice), in float32, where a perfect 0/1 prediction's
              1 - 1e-7 + 1e-7 rounds to 1: it scores 0.
``torch``     PyTorch: probabilities: each log clamped at -100 (so -log 0 = 100); logits:
              ``(1 - y) x - (1 + (pw - 1) y) log_sigmoid(x)``, with PyTorch's NaN and inf
              at infinite logits; computed in the input dtype (float16/bfloat16 in
              float32), each exp, log and log1p rounded once to it, as PyTorch's are.
``sklearn``   scikit-learn ``log_loss``: clips p to [eps, 1 - eps] with eps = finfo(dtype).eps of
              the input, logs in float64; probabilities only (sklearn has no logits input).
============  ==============================================================================
"""

from __future__ import annotations

from typing import Literal

from ._core.options import CONVENTIONS

__all__ = ["CONVENTIONS", "Convention"]

Convention = Literal["exact", "keras", "tf_keras", "torch", "sklearn"]
