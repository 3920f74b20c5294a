# Two commands do all the set-up on a fresh clone with Python 3.11:
#   make lab    installs what is missing, then serves the learner's workspace in JupyterLab
#   make test   installs what is missing, then runs the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# nbgrader runs `alembic` from PATH when it creates a gradebook.
export PATH := $(BIN):$(PATH)
# Served on this machine only; pass more options with LAB_ARGS="--ServerApp.port=9999".
# JupyterLab refuses to run as root unless told (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_FLAGS := --ServerApp.ip=127.0.0.1 --ServerApp.open_browser=False $(ROOT_FLAG) $(LAB_ARGS)
# The learner's own copy of notebooks/ (git-ignored): made on the first `make lab`, never overwritten.
WORKSPACE ?= workspace
# Read by the learner's server only: nbgrader's instructor tools off (scripts/setup_lab.py writes it).
LEARNER_CONFIG := $(CURDIR)/$(VENV)/etc/jupyter-learner

.PHONY: lab instructor test test-other-cpu test-fast test-browser notebooks solutions check demo-grade bench clean

$(STAMP): requirements.txt requirements-student.txt pyproject.toml scripts/setup_lab.py scripts/setup_sandbox.py
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	$(BIN)/python scripts/setup_lab.py
	$(BIN)/python scripts/setup_sandbox.py
	touch $(STAMP)

lab: $(STAMP)  ## the learner's workspace, opened on its start page
	$(BIN)/lrcourse workspace $(WORKSPACE)
	JUPYTER_CONFIG_PATH=$(LEARNER_CONFIG) $(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=$(WORKSPACE) \
		--LabApp.default_url=/lab/tree/START.md

instructor: $(STAMP)  ## JupyterLab on the course root, with nbgrader's formgrader
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=.

# Three workers on two cores (many tests wait on kernels, servers and browsers). Each test file or test class
# goes whole to one worker, since its tests share its fixtures (a graded chapter, a JupyterLab server), and
# the longest are handed out first (tests/conftest.py). Not loadgroup: with pytest 9.2 it silently stops
# grouping (pytest-xdist#1386).
XDIST := -n 3 --dist loadscope --no-loadscope-reorder
# The second pass's few tests share no fixtures: one test per worker at a time.
XDIST_OTHER_CPU := -n 3 --dist load

# Then the tests of float32 training results again, as another processor computes them: PyTorch's portable
# kernels change the last bits the way another CPU does (lrcourse/tolerances.py).
OTHER_CPU := ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1

test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST)
	$(OTHER_CPU) $(BIN)/python -m pytest $(XDIST_OTHER_CPU) -m cpu_sensitive

test-other-cpu: $(STAMP)  ## only the tests of float32 results, under another CPU's arithmetic
	$(OTHER_CPU) $(BIN)/python -m pytest $(XDIST_OTHER_CPU) -m cpu_sensitive

test-fast: $(STAMP)  ## the unit tests only: no kernels, no nbgrader, no browser
	$(BIN)/python -m pytest -m "not slow and not browser and not postgres"

test-browser: $(STAMP)
	$(BIN)/python -m pytest -m browser

notebooks: $(STAMP)  ## regenerate the student notebooks from source/
	$(BIN)/python -m lrcourse.build notebooks

solutions: $(STAMP)  ## regenerate solutions/: source notebooks executed, with outputs
	$(BIN)/python -m lrcourse.build solutions

# One chapter or a few: `make check CHAPTER=03`, `make check CHAPTER="02 03"` (a number or the folder's name).
# NO_SANDBOX=1 where bubblewrap cannot run (macOS, some containers): your own code, run with your rights.
CHAPTER ?=
NO_SANDBOX ?=
check: $(STAMP)  ## self-study: grade your workspace with the full hidden tests; the start page shows the score
	$(BIN)/lrcourse workspace $(WORKSPACE)
	LRCOURSE_WORKSPACE=$(abspath $(WORKSPACE)) $(BIN)/lrcourse check $(CHAPTER) $(if $(NO_SANDBOX),--no-sandbox); \
		status=$$?; if [ $$status -le 1 ]; then $(BIN)/python -m lrcourse.start_page $(WORKSPACE) --checked; fi; \
		exit $$status

demo-grade: $(STAMP)  ## grade the example class shipped in examples/class
	$(BIN)/lrcourse demo

bench: $(STAMP)
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_browser.py

clean:
	rm -rf $(VENV) build test-artifacts gradebook.db
