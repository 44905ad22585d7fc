# upbench — the two commands of the README: `make quick` and `make test` (`make lint`: ruff, mypy).
#
# Both work on a fresh machine with nothing but Python 3.11: they create .venv if missing, install
# torch 2.14.1 + torchvision 0.29.1 (the CUDA 13.0 builds; they run on the CPU too) only when torch
# is absent (a user's own torch is kept), install upbench, build the native library, then run.
#   make test TORCH="torch==2.13.0"     # choose the torch to install when none is present
#   make cuda-check                     # the full CUDA build (sm_80, sm_90) and its registrations
#   make test PYTHON=python3.12         # choose the interpreter for a new .venv

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.14.1 torchvision==0.29.1
TORCH_INDEX ?=
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# test processes at most (one per core up to this; PYTEST_ARGS=-n0 runs them in this process)
TEST_WORKERS ?= 4

.PHONY: quick test lint gate cuda-check install build venv torch clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(PY)

# Install torch only where it is absent, so a user's existing (e.g. CUDA) build is kept.
torch: venv
	@if $(PY) -c "import torch" >/dev/null 2>&1; then \
		echo "torch $$($(PY) -c 'import torch; print(torch.__version__)') already installed; keeping it"; \
		$(PY) -c "import torchvision" >/dev/null 2>&1 || echo "note: torchvision is missing;" \
			"the detection task needs the torchvision release matching this torch"; \
	else \
		echo "installing $(TORCH)"; \
		$(PY) -m pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); \
	fi

install: torch
	$(PY) -m pip install --quiet -e ".[dev,ray]"

build: install
	$(VENV)/bin/upbench ops build

QUICK_OUT ?= results/quick
# one quick suite per task: suites/quick.yaml (segmentation) and suites/<task>-quick.yaml
QUICK_SUITES ?= suites/quick.yaml $(filter-out suites/quick.yaml,$(sort $(wildcard suites/*-quick.yaml)))

# the quick suites run as one invocation, so their cells share one pool of workers (as many cells
# at once as cores / threads per cell; latency and memory are still measured alone), each into
# $(QUICK_OUT)/<suite name>; every cell runs even if another failed, the exit code says whether
# any did. QUICK_JOBS=N sets the cells at once.
QUICK_JOBS ?=
quick: build
	$(VENV)/bin/upbench ops check
	@status=0; $(VENV)/bin/upbench run $(QUICK_SUITES) --out $(QUICK_OUT) \
		$(if $(QUICK_JOBS),--jobs $(QUICK_JOBS)) || status=$$?; \
	[ $$status -eq 130 ] && exit 130; \
	$(VENV)/bin/upbench compare $(QUICK_OUT) --format markdown; exit $$status

test: build
	$(PY) -m pytest -q -n auto --maxprocesses $(TEST_WORKERS) --dist load $(PYTEST_ARGS)

# The linters and the type checker (configured in pyproject.toml); both must pass.
lint: install
	$(VENV)/bin/ruff check upbench tests setup.py
	$(PY) -m mypy

# The CI regression gate: run the CI suite, then check it against the stored baseline
# (exit 1 on a regression, 2 on unusable input).
GATE_OUT ?= build/gate
gate: build
	rm -rf $(GATE_OUT)
	$(VENV)/bin/upbench run suites/ci.yaml --out $(GATE_OUT)
	$(VENV)/bin/upbench check $(GATE_OUT) --baseline results/baselines/ci.json

# The real CUDA build: every kernel and binding under torch's own nvcc flags for sm_80 and sm_90
# (no GPU needed), loaded, every op checked for a CPU and a CUDA kernel (own cache directory).
cuda-check: install
	$(VENV)/bin/upbench ops cuda-check --archs "8.0;9.0"

clean:
	rm -rf $(VENV) build dist *.egg-info
