"""Run folders all or nothing: swapped in whole, checkpoints while training, stale files,
write failures, Ctrl-C during the save; progress=; History._repr_html_; resume refusals."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bcelab.errors import OptionError  # noqa: E402
from bcelab.train import MLPSpec, builtin, fit, interrupts, load_history  # noqa: E402
from bcelab.train.history import History  # noqa: E402

KW = {"epochs": 12, "seeds": 2}


@pytest.fixture(scope="module")
def circles():
    return builtin("circles")


def _same(a: History, b: History) -> None:
    assert a.epochs == b.epochs
    for k in b.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
    for k in b.final:
        np.testing.assert_array_equal(a.final[k], b.final[k], err_msg=k)
    assert a.model_state is not None and b.model_state is not None
    for k in b.model_state:
        assert torch.equal(a.model_state[k], b.model_state[k]), k


@pytest.mark.parametrize("seeds", [1, 8])  # 8 seeds: the pipelined trainer
def test_checkpoints_while_training_resume_bit_for_bit(circles, tmp_path, seeds) -> None:
    """A checkpoint every 5 epochs is a whole run folder; continuing from the one a kill
    would leave gives the uninterrupted run."""
    out, kept = tmp_path / "run", tmp_path / "kept"
    seen: list[int] = []

    def look(h: History) -> None:  # what a SIGKILL after epoch 8 would leave on disk
        if h.epochs == 8:
            summary = json.loads((out / "summary.json").read_text())
            seen.append(summary["epochs_completed"])
            assert summary["in_progress"] is True
            assert {p.name for p in out.iterdir()} == {  # all but the figure
                "history.csv",
                "history.json",
                "model.pt",
                "checkpoint.pt",
                "summary.json",
                "predictor.json",
            }
            shutil.copytree(out, kept)

    kw = {"epochs": 12, "seeds": seeds}
    full = fit(MLPSpec(), circles, out=out, checkpoint_every=5, callbacks=[look], **kw)
    assert seen == [5]
    assert json.loads((out / "summary.json").read_text())["in_progress"] is False
    resumed = fit(MLPSpec(), circles, resume=kept, out=kept, **kw)
    _same(resumed, full)
    assert load_history(kept / "history.json").epochs == 12


def test_by_default_checkpoints_follow_the_clock(circles, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("bcelab.train.loop.CHECKPOINT_SECONDS", 0.0)
    seen: list[int] = []

    def look(h: History) -> None:
        if (tmp_path / "summary.json").is_file():
            seen.append(json.loads((tmp_path / "summary.json").read_text())["epochs_completed"])

    fit(MLPSpec(), circles, out=tmp_path, epochs=4, callbacks=[look])
    assert seen == [1, 2, 3]  # before each later epoch
    seen.clear()
    fit(MLPSpec(), circles, out=tmp_path, epochs=4, callbacks=[look], checkpoint_every=0)
    assert seen == [4, 4, 4, 4]  # only the previous run's final folder was there


def test_a_folder_with_other_files_is_refused_before_training(circles, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    calls: list[int] = []
    with pytest.raises(OptionError, match="out must be a new folder or a previous output"):
        fit(MLPSpec(), circles, out=tmp_path, callbacks=[lambda h: calls.append(1)], **KW)
    assert calls == [] and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_previous_run_is_replaced_whole(circles, tmp_path) -> None:
    out = tmp_path / "run"
    fit(MLPSpec(), circles, out=out, **KW)
    before = (out / "history.csv").read_text()
    fit(MLPSpec(), circles, out=out, epochs=3)
    assert (out / "history.csv").read_text() != before
    assert load_history(out / "history.json").epochs == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_stale_temporary_files_of_a_killed_run_are_removed(circles, tmp_path) -> None:
    out = tmp_path / "run"
    fit(MLPSpec(), circles, out=out, epochs=2)
    stale = [out / ".history.csv.abcd1234.tmp", out / ".model.pt.zz99.tmp"]
    for p in stale:
        p.write_text("partial")
    folder = tmp_path / ".bcelab-tmp-run.999999999.q1w2e3"  # a dead process's staging folder
    folder.mkdir()
    (folder / "history.csv").write_text("partial")
    past = time.time() - 3600
    for p in (*stale, folder):
        os.utime(p, (past, past))
    fit(MLPSpec(), circles, out=out, epochs=2)
    assert not any(p.exists() for p in (*stale, folder))


def test_a_failed_write_leaves_the_previous_run_whole(circles, tmp_path, monkeypatch) -> None:
    out = tmp_path / "run"
    fit(MLPSpec(), circles, out=out, epochs=2)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "checkpoint.pt"))

    monkeypatch.setattr("bcelab.train.artifacts.save_torch", full)
    with pytest.raises(OSError, match="No space left"):
        fit(MLPSpec(), circles, out=out, epochs=3)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_write_error_names_the_file(tmp_path, monkeypatch) -> None:
    """A failed write inside the atomic writer is an OSError that names the file."""
    from bcelab._core.atomic import write_text

    real = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("bcelab._core.atomic.os.fdopen", lambda *a, **k: Full(real(*a, **k)))
    with pytest.raises(OSError) as e:
        write_text(tmp_path / "x.txt", "hello")
    assert e.value.filename == str(tmp_path / "x.txt") and e.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


# --- Ctrl-C -----------------------------------------------------------------------------


def test_a_second_ctrl_c_waits_for_the_save(circles, tmp_path, monkeypatch, ctrl_c_raises) -> None:
    """The first SIGINT stops the epochs; one during the save is held until it is done."""
    import bcelab.train.artifacts as artifacts

    real = artifacts.write_run

    def slow_write(*args: object, **kwargs: object):
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, in the middle of the save
        time.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(artifacts, "write_run", slow_write)

    def first(h: History) -> None:
        if h.epochs == 3:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    h = fit(MLPSpec(), circles, out=tmp_path / "run", callbacks=[first], checkpoint_every=0, **KW)
    assert h.interrupted and h.epochs == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["interrupted"] and summary["epochs_completed"] == 3
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_during_the_save_of_a_finished_run_is_raised_after_it(
    circles, tmp_path, ctrl_c_raises
) -> None:
    with pytest.raises(KeyboardInterrupt):
        with interrupts.guarded():
            interrupts.hold()
            os.kill(os.getpid(), signal.SIGINT)  # held: nothing happens here
            (tmp_path / "saved").write_text("complete")
    assert (tmp_path / "saved").read_text() == "complete"
    with interrupts.guarded():  # nothing pending from before
        pass


# --- progress, notebook view, resume ------------------------------------------------------


def test_progress_option(circles, capsys) -> None:
    calls: list[tuple[int, int]] = []
    fit(MLPSpec(), circles, epochs=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    fit(MLPSpec(), circles, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "epoch 3/3" in err and "epochs/s" in err and "train loss" in err
    with pytest.raises(OptionError, match="progress must be True, False or a callable"):
        fit(MLPSpec(), circles, epochs=3, progress="yes")
    with pytest.raises(OptionError, match="fit: checkpoint_every must be None"):
        fit(MLPSpec(), circles, epochs=3, checkpoint_every=-1)


def test_history_html_is_escaped_and_shows_mean_and_sd(circles) -> None:
    h = fit(MLPSpec(), circles, epochs=3, seeds=3)
    h.config["data"] = "<script>x</script>"
    page = h._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "3 epochs, mean ± sd over 3 seeds" in page
    s = h.summary()["test_acc"]
    assert f"{s['mean']:.4f} ± {s['sd']:.4f}" in page
    assert page.startswith("<table") and page.endswith("</table>")
    assert ": 1 epoch, seed 0" in fit(MLPSpec(), circles, epochs=1)._repr_html_()


def test_resume_refuses_other_options_naming_each(circles, tmp_path) -> None:
    fit(MLPSpec(), circles, out=tmp_path, epochs=2)
    with pytest.raises(OptionError) as e:
        fit(MLPSpec(), circles, resume=tmp_path, epochs=3, lr=0.1, seeds=2)
    msg = str(e.value)
    assert "lr=0.01 in the run, 0.1 now" in msg and "seeds=[0] in the run, [0, 1] now" in msg
    with pytest.raises(OptionError, match="the data differ from the run's"):
        fit(MLPSpec(), builtin("moons"), resume=tmp_path, epochs=3)
