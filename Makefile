# nnsweep: every target that needs Python depends on the virtualenv, so any of them works on a
# fresh clone. `make help` lists the targets from their `## ` comments.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
# Variables of `make sweep-lr` (listed by `make help`):
#   make sweep-lr NET=lenet5 DATA=fashion LRS=0.01,0.1,1 EPOCHS=30 BATCH=32 ARGS='optimizer=adam'
NET ?= rashid## net config (rashid, nielsen, mlp, lenet5, ...)
DATA ?= mnist5k## data config (mnist5k embedded, fashion, mnist, idx, csv)
LRS ?=## comma-separated learning rates (default: 11 log-spaced from 0.003 to 10)
EPOCHS ?= 15## epochs per run
BATCH ?= 1## mini-batch size
ARGS ?=## more Hydra overrides for every run, e.g. ARGS='optimizer=momentum trainer.seed=1'
SWEEP ?=

.PHONY: help setup test bench clean sweep-lr report

help: ## List the targets, one line each, and the variables of sweep-lr
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@echo "Variables of sweep-lr:"
	@grep -E '^[A-Z]+ \?=.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = " \\?=[^#]*## "}; {printf "  %-8s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv and install nnsweep with its test tools (pip install -e '.[dev]')

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

sweep-lr: $(STAMP) ## Sweep the learning rate (NET, DATA, LRS, EPOCHS, BATCH); tables and report
	$(PY) -m sweeps.lr --net $(NET) --data $(DATA) --epochs $(EPOCHS) --batch $(BATCH) $(if $(LRS),--lrs $(LRS)) $(ARGS)

report: $(STAMP) ## Collect a sweep and write its figures and index.html: make report SWEEP=<sweep dir>
	@test -n "$(SWEEP)" || { echo "nnsweep: error: say which sweep: make report SWEEP=<sweep dir>" >&2; exit 2; }
	$(PY) -m sweeps.collect $(SWEEP)
	$(PY) -m reports $(SWEEP)

test: $(STAMP) ## Run the test suite (a few minutes on 2 cores)
	$(PY) -m pytest

bench: $(STAMP) ## Time one epoch over 50,000 Fashion-MNIST images: engine vs a plain NumPy loop
	$(PY) -m bench.epoch_speed

clean: ## Remove the virtualenv and caches (results in outputs/ and multirun/ are kept)
	rm -rf $(VENV) .pytest_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
