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


def test_import_bcelab_loads_no_numpy_until_a_name_is_used() -> None:
    code = (
        "import sys, bcelab, bcelab.cli\n"
        "before = 'numpy' in sys.modules\n"
        "from bcelab import bce, Decomposition\n"
        "import bcelab.losses, bcelab.information\n"
        "assert bce is bcelab.losses.bce and bcelab.bce is bce\n"
        "assert Decomposition is bcelab.information.Decomposition\n"
        "assert {'bce', 'evaluate', 'metrics'} <= set(dir(bcelab))\n"
        "assert abs(float(bcelab.bce([0.5], [1.0], reduction='mean')) - 0.6931471805599453) < 1e-15\n"
        "print(before, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_every_public_name_of_the_package_resolves() -> None:
    import bcelab

    for name in bcelab.__all__:
        assert getattr(bcelab, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        bcelab.no_such_name  # noqa: B018
