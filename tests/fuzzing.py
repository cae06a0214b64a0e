"""What the fuzz tests share: the example count and NumPy's floating dtypes.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per property; set it to 10000
for the larger check (the command is in the README).
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import settings

EXAMPLES = int(os.environ.get("BCELAB_FUZZ_EXAMPLES", "1000"))
fuzz = settings(max_examples=EXAMPLES, deadline=None)


def float_dtypes() -> list[np.dtype]:
    """float16, NumPy's bfloat16 (ml_dtypes, which the caller has imported), float32, float64."""
    import ml_dtypes

    return [np.dtype(t) for t in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64)]
