"""Names that load on first use: ``bcelab._core.lazy.lazy_getattr``."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_compare_loads_on_first_use_only() -> None:
    code = (
        "import sys, bcelab.evaluation, bcelab.metrics\n"
        "before = [m for m in ('bcelab.evaluation.compare', 'bcelab.metrics.paired')"
        " if m in sys.modules]\n"
        "from bcelab.evaluation import compare, ComparisonResult\n"
        "from bcelab.metrics import PairedBootstrapStats\n"
        "mod, paired = (sys.modules[m] for m in ('bcelab.evaluation.compare', 'bcelab.metrics.paired'))\n"
        "assert compare is mod.compare and PairedBootstrapStats is paired.PairedBootstrapStats\n"
        "assert 'compare' in vars(bcelab.evaluation)  # kept after the first use\n"
        "print(before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_names_raise_attribute_error() -> None:
    import bcelab.evaluation
    import bcelab.metrics

    for mod in (bcelab.metrics, bcelab.evaluation):
        with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
            mod.no_such_name  # noqa: B018
        assert not hasattr(mod, "also_missing")
