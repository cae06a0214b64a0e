# Quick start: `make demo` and `make test`. Both create .venv and install the project first.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WARM := $(VENV)/.warm-stamp
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint typecheck unit bench clean

# pip installs without byte-compiling, and compileall then compiles the installed
# packages on every core (pip compiles one file at a time: 54 s against 41 s on 2 cores);
# a file that does not compile is skipped, as pip skips it, and so are the packages' own
# test folders (a third of the files; nothing here imports them).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q --no-compile -c constraints.txt -e ".[all,test,bench]"
	$(BIN)/python -c "import compileall as c, re, sysconfig as s; c.compile_dir(s.get_paths()['purelib'], quiet=2, workers=0, rx=re.compile('/tests?/'))"
	touch $(STAMP)

# the kernels compiled once now, not in the first eval or bce call
$(WARM): $(STAMP)
	$(BIN)/bcelab warmup
	touch $(WARM)

install: $(WARM)

demo: install
	@echo "== 1. Why does a perfect soft-target prediction not score 0? =="
	$(BIN)/bcelab loss --targets 0.5,0.3,0.5,0.9 --preds 0.1,0.3,0.5,0.8 --convention tf_keras
	@echo
	$(BIN)/bcelab loss --targets 0.5,0.3,0.5,0.9 --preds 0.5,0.3,0.5,0.9 --convention tf_keras
	@echo
	$(BIN)/bcelab explain --target 0.3 --plot runs/demo/explain-target-0.3.png
	@echo
	@echo "== 2. The two-circles tutorial, once and then 30 seeds at once =="
	$(BIN)/bcelab train circles --quiet --overwrite --out runs/demo/circles
	$(BIN)/bcelab train circles --seeds 30 --quiet --overwrite --out runs/demo/circles-30
	@echo "(the tutorial reported Train: 0.836, Test: 0.852 for one run)"
	@echo
	@echo "== 3. Evaluate 1e6 predictions in constant memory: log loss, NE, calibration, AUC =="
	@mkdir -p runs/demo
	$(BIN)/python -c "import numpy as np, pyarrow as pa, pyarrow.parquet as pq; r=np.random.default_rng(0); p=r.random(10**6); pq.write_table(pa.table({'y':(r.random(10**6)<p).astype('f4'),'p':p.astype('f4'),'seg':r.choice(['a','b'],10**6)}),'runs/demo/preds.parquet')"
	$(BIN)/bcelab eval runs/demo/preds.parquet --target y --pred p --by seg --report runs/demo/eval-report
	@echo
	@echo "== 4. The autoencoder question, on images: BCE = floor + excess =="
	$(BIN)/bcelab train autoencoder --epochs 30 --quiet --overwrite --out runs/demo/autoencoder

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal -q --durations=25

# lint and the type check run while the kernels compile (the warmup leaves a core idle
# for part of its time), then the tests
test: $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target lint typecheck $(WARM)
	$(MAKE) --no-print-directory unit

bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache .hypothesis
