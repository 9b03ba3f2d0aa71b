# nnsweep: every target that needs Python depends on the virtualenv, so any of them works on a
# fresh clone. `make help` lists the targets from their `## ` comments.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
# make sweep-lr NET=lenet5 DATA=fashion LRS=0.01,0.1,1 EPOCHS=30 BATCH=32
NET ?= rashid
DATA ?= mnist5k
EPOCHS ?= 15
BATCH ?= 1
LRS ?=
SWEEP ?=

.PHONY: help setup test bench clean sweep-lr report

help: ## List the targets, one line each
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv and install nnsweep with its test tools (pip install -e '.[dev]')

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# compat mode: a plain path entry, so Python merges our hydra_plugins/ namespace portion with
	# the launchers' (the default editable finder hides it once another portion is installed).
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $@

sweep-lr: $(STAMP) ## Sweep the learning rate (NET, DATA, LRS, EPOCHS, BATCH); tables and report
	$(PY) -m sweeps.lr --net $(NET) --data $(DATA) --epochs $(EPOCHS) --batch $(BATCH) $(if $(LRS),--lrs $(LRS))

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
