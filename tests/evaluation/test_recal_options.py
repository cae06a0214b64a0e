"""The recalibration options of ``bcelab.evaluate``, checked on their own (no data read).

``test_eval_recalibration.py`` checks the same errors through ``evaluate``; here each
branch's result and message are checked directly, in the function's own words.
"""

from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from bcelab.errors import DataError, OptionError  # noqa: E402
from bcelab.evaluation.recal_options import (  # noqa: E402
    RecalibrationOptions,
    check_recalibration_options,
)


def _check(recalibrate=None, fit_on=None, negative_rate=None, kind="paths"):
    return check_recalibration_options(
        recalibrate, fit_on, negative_rate, kind=kind, fname="evaluate"
    )


def test_no_recalibration_keeps_only_the_negative_rate():
    assert _check() == RecalibrationOptions()
    assert _check(negative_rate=0.25) == RecalibrationOptions(negative_rate=0.25)


def test_a_method_without_fit_rows_fits_on_the_evaluated_rows():
    opts = _check("platt")
    assert (opts.method, opts.fit_on, opts.fit_kind) == ("platt", None, None)
    assert _check("downsampling", negative_rate=0.1).negative_rate == 0.1


def test_fit_on_a_file_and_on_a_table(tmp_path):
    path = tmp_path / "calib.parquet"
    pq.write_table(pa.table({"p": np.array([0.2], np.float32), "y": [1.0]}), path)
    assert _check("isotonic", fit_on=str(path)) == RecalibrationOptions(
        "isotonic", str(path), "paths", None
    )
    table = pa.table({"p": [0.2], "y": [1.0]})
    assert _check("temperature", fit_on=table).fit_kind == "table"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fit_on": "calib.parquet"}, "fit_on= only with recalibrate="),
        ({"recalibrate": "downsampling"}, "with negative_rate="),
        (
            {"recalibrate": "downsampling", "negative_rate": 0.1, "fit_on": "c.parquet"},
            "no fit_on= with recalibrate='downsampling'",
        ),
        ({"recalibrate": "platt", "kind": "stream"}, "needs a source that can be read more"),
        ({"recalibrate": "platt", "fit_on": 3}, "fit_on must be a path"),
        ({"recalibrate": "spline"}, "recalibrate must be one of"),
        ({"negative_rate": 0.0}, "negative_rate must be a number in (0, 1]"),
        # before: 1 / 5e-324 = inf weighed every negative, and the error spoke of NaN
        # weights the caller never passed
        ({"negative_rate": 5e-324}, "whose inverse, the weight of each negative, is finite"),
    ],
)
def test_each_wrong_combination_says_what_to_pass(kwargs, message):
    with pytest.raises(OptionError) as info:
        _check(**kwargs)
    assert message in str(info.value)
    assert info.value.fix  # every error says how to fix it


def test_fit_on_a_stream_or_a_missing_file(tmp_path):
    reader = pa.table({"p": [0.2], "y": [1.0]}).to_reader()
    with pytest.raises(OptionError, match="fit_on must be a source that can be read more"):
        _check("platt", fit_on=reader)
    with pytest.raises(DataError, match="fit_on must name"):
        _check("platt", fit_on=str(tmp_path / "nowhere.parquet"))
