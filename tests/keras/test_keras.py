"""bcelab.keras on the torch and jax backends, each in its own process.

Keras reads KERAS_BACKEND once, at import, so each backend gets a fresh interpreter:
``tests/keras/test_on_backend.py``, ``test_weights_and_masks_on_backend.py``,
``test_messages_on_backend.py`` and the fuzz
tests (``test_fuzz_on_backend.py``) run under pytest with KERAS_BACKEND set, and the
seed 001 script runs as a script.
OMP_NUM_THREADS=1: the models are tiny, and on this 2-core machine extra intra-op
threads only add contention.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("keras") is None:  # importing keras needs a backend chosen first
    pytest.skip("keras is not installed", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = [b for b in ("jax", "torch") if importlib.util.find_spec(b)]

# Seed 001 (/work/shared/seeds/001_*.txt, the machinelearningmastery two-circles MLP),
# unchanged except: the two bcelab lines (import, loss=..., metrics=...), Keras 3 names
# (SGD(learning_rate=...), history keys 'binary_accuracy'), and pyplot.show() running
# under the non-interactive Agg backend.
SEED_001 = """\
# mlp for the circles problem with cross entropy loss
import bcelab.keras
from sklearn.datasets import make_circles
from keras.models import Sequential
from keras.layers import Dense
from keras.optimizers import SGD
from matplotlib import pyplot
# generate 2d classification dataset
X, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
# split into train and test
n_train = 500
trainX, testX = X[:n_train, :], X[n_train:, :]
trainy, testy = y[:n_train], y[n_train:]
# define model
model = Sequential()
model.add(Dense(50, input_dim=2, activation='relu', kernel_initializer='he_uniform'))
model.add(Dense(1, activation='sigmoid'))
opt = SGD(learning_rate=0.01, momentum=0.9)
model.compile(loss=bcelab.keras.BinaryCrossentropy(), optimizer=opt, metrics=[bcelab.keras.BinaryAccuracy()])
# fit model
history = model.fit(trainX, trainy, validation_data=(testX, testy), epochs=200, verbose=0)
# evaluate the model
_, train_acc = model.evaluate(trainX, trainy, verbose=0)
_, test_acc = model.evaluate(testX, testy, verbose=0)
print('Train: %.3f, Test: %.3f' % (train_acc, test_acc))
# plot loss during training
pyplot.subplot(211)
pyplot.title('Loss')
pyplot.plot(history.history['loss'], label='train')
pyplot.plot(history.history['val_loss'], label='test')
pyplot.legend()
# plot accuracy during training
pyplot.subplot(212)
pyplot.title('Accuracy')
pyplot.plot(history.history['binary_accuracy'], label='train')
pyplot.plot(history.history['val_binary_accuracy'], label='test')
pyplot.legend()
pyplot.show()
"""

# The script has no seed; the runner fixes Keras's global seed first (same seed, same
# result) and then runs the script file as __main__.
RUNNER = """\
import runpy, sys
import keras
keras.utils.set_random_seed(int(sys.argv[2]))
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def _env(backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND=backend, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore"
    )
    if backend == "jax":
        # the fuzz tests' 1,000 examples run on the torch backend; Keras's eager calls on
        # jax take 3-4x as long (an XLA compile per new shape, about 0.25 s an example),
        # so the jax run takes 50 unless the count is set
        env.setdefault("BCELAB_FUZZ_EXAMPLES", "50")
    return env


def test_import_bcelab_keras_does_not_import_keras():
    code = (
        "import sys, bcelab, bcelab.keras\n"
        "assert 'keras' not in sys.modules and 'torch' not in sys.modules\n"
        "assert 'jax' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_keras_adapter_on_backend(backend):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-W",
            "ignore::DeprecationWarning",
            str(ROOT / "tests" / "keras" / "test_on_backend.py"),
            str(ROOT / "tests" / "keras" / "test_weights_and_masks_on_backend.py"),
            str(ROOT / "tests" / "keras" / "test_messages_on_backend.py"),
            str(ROOT / "tests" / "keras" / "test_fuzz_on_backend.py"),
        ],
        cwd=ROOT,
        env=_env(backend),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_001_trains_to_the_tutorial_accuracy(backend, tmp_path):
    script = tmp_path / "seed001.py"
    script.write_text(SEED_001)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    proc = subprocess.run(
        [sys.executable, str(runner), str(script), "1"],
        cwd=tmp_path,
        env=_env(backend),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    m = re.search(r"Train: ([0-9.]+), Test: ([0-9.]+)", proc.stdout)
    assert m, proc.stdout
    train, test = float(m.group(1)), float(m.group(2))
    # Reference: anchors.md, Keras 3 with its own loss over 30 seeds: train 0.834 +- 0.006,
    # test 0.849 +- 0.005 (the tutorial's run: 0.836 / 0.852).  Bands of about +-4 sd.
    assert 0.81 <= train <= 0.86, proc.stdout
    assert 0.83 <= test <= 0.87, proc.stdout


def test_docs_example_runs(tmp_path):
    # the Keras example of docs/adapters.md, executed as written (jax backend: the
    # cheaper one; both backends are covered by the tests above)
    doc = (ROOT / "docs" / "adapters.md").read_text()
    (code,) = re.findall(r"```python\n(# docs-test: keras\n.*?)```", doc, re.S)
    script = tmp_path / "docs_keras.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env("jax"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.skipif("jax" not in BACKENDS, reason="jax is not installed")
def test_clip_trains_on_the_jax_backend() -> None:
    # model.fit traces the loss with jax.jit: clip=1e-7 used to raise
    # ConcretizationTypeError there (the clip's ends were read back from traced arrays)
    code = (
        "import numpy as np, keras, bcelab.keras as bk\n"
        "keras.utils.set_random_seed(0)\n"
        "x = np.random.default_rng(0).normal(size=(64, 3)).astype('float32')\n"
        "y = (x[:, :1] > 0).astype('float32')\n"
        "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation='sigmoid')])\n"
        "m.compile(optimizer=keras.optimizers.SGD(0.5), loss=bk.BinaryCrossentropy(clip=1e-7))\n"
        "loss = m.fit(x, y, epochs=3, batch_size=16, verbose=0).history['loss']\n"
        "assert np.isfinite(loss).all() and loss[-1] < loss[0], loss\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env("jax"), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None, reason="TensorFlow is installed here"
)
def test_without_a_backend_chosen_the_error_says_how_to_choose_one() -> None:
    # Keras's default backend is TensorFlow: without it, `import keras` fails inside Keras
    code = (
        "import numpy as np, bcelab.keras as bk\n"
        "try:\n"
        "    bk.BinaryCrossentropy()(np.array([[1.0]]), np.array([[0.7]]))\n"
        "except bcelab.errors.OptionError as e:\n"
        "    print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", "import bcelab.errors\n" + code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "KERAS_BACKEND=unset" in out, out
    assert "set KERAS_BACKEND=torch or KERAS_BACKEND=jax before the first import of keras" in out
