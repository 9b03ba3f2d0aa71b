# nnsweep: every target that needs Python depends on the virtualenv, so any of them works on a
# fresh clone. `make help` lists the targets from their `## ` comments.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help setup test bench clean

help: ## List the targets, one line each
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv and install nnsweep with its test tools (pip install -e '.[dev]')

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

test: $(STAMP) ## Run the test suite (a few minutes on 2 cores)
	$(PY) -m pytest

bench: $(STAMP) ## Time one epoch over 50,000 Fashion-MNIST images: engine vs a plain NumPy loop
	$(PY) -m bench.epoch_speed

clean: ## Remove the virtualenv and caches (results in outputs/ and multirun/ are kept)
	rm -rf $(VENV) .pytest_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
