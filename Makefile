# nnsweep: every target that needs Python depends on the virtualenv, so any of them works on a
# fresh clone. `make help` lists the targets from their `## ` comments.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# uv installs the exact versions of uv.lock; its own version is the one that file pins.
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never

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

.PHONY: help setup lock test bench clean sweep-lr report

help: ## List the targets, one line each, and the variables of sweep-lr
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@echo "Variables of sweep-lr:"
	@grep -E '^[A-Z]+ \?=.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = " \\?=[^#]*## "}; {printf "  %-8s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with the exact versions of uv.lock and nnsweep installed editable

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .uv uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --extra dev --python $(PYTHON)
	@touch $@

lock: | $(UV) ## Refresh uv.lock to the newest versions pyproject.toml allows (then make test)
	$(UV) lock --upgrade --python $(PYTHON)

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
	rm -rf $(VENV) .uv .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
