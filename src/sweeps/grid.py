"""The grid sweep behind ``-m`` (``hydra_plugins.nnsweep_grid``, the default sweeper of
``conf/config.yaml``): every combination of the listed values, as Hydra's basic sweeper makes
them (``optimizer=sgd,adam optimizer.lr=0.01,0.1`` is four jobs), and what the basic sweeper
lacks:

- It holds the sweep lock for the whole sweep: a second identical grid is refused with one
  line instead of training every point again beside the first.
- Its batches go through ``sweeps.launch.TrialLauncher``: identical points train once, a worker
  killed by the system is retried and then recorded as failed, and the grid goes on.
- A failure of the machine (no space, an OS error) ends the grid after the batch it happened
  in, with one line; a rerun of the same command retries those runs and reuses finished ones.
- As runs finish it prints how far the grid is (``sweeps.progress``: done, failed, best so far,
  ETA); at the end it collects ``runs.csv`` and ``epochs.csv`` (``sweeps.collect``).
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from sweeps.launch import LaunchingSweeper, Outcome, SweepError, TrialLauncher, machine_failure, no_result
from sweeps.progress import SweepProgress

log = logging.getLogger("nnsweep.grid")


class GridSearch(LaunchingSweeper):
    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        if max_batch_size is not None and max_batch_size < 1:
            raise SweepError(f"hydra.sweeper.max_batch_size must be at least 1 (or null: one batch), got {max_batch_size}")
        self.max_batch_size, self.params = max_batch_size, dict(params or {})

    def sweep(self, arguments: list[str]) -> None:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        batches = BasicSweeper.split_arguments(overrides, self.max_batch_size)
        self.run_locked(lambda sweep_dir: self._run(batches, sweep_dir))

    def _run(self, batches: list[list[list[str]]], sweep_dir: Path) -> None:
        launcher = TrialLauncher(self)
        outcomes: list[Outcome] = []
        next_job = 0
        progress = SweepProgress(sweep_dir, sum(len(b) for b in batches))
        progress.expect([point for batch in batches for point in batch])  # a rerun: its finished points
        with progress.watching():
            for batch in batches:
                self.validate_batch_is_legal(batch)
                done, next_job = launcher.run(batch, next_job)
                progress.settle(done)
                outcomes.extend(done)
                if any(o.machine_failed for o in done):
                    break  # the machine fails under its runs: the next batch would fail too
        self._finish(sweep_dir, outcomes, sum(len(b) for b in batches))

    def _finish(self, sweep_dir: Path, outcomes: list[Outcome], n_points: int) -> None:
        from sweeps.collect import collect

        collect(sweep_dir)
        counts = Counter(o.status.value for o in outcomes)
        crashed = [o for o in outcomes if o.worker_died]
        log.info("grid of %d points in %s: %s; tables in %s", n_points, sweep_dir,
                 ", ".join(f"{n} {s}" for s, n in counts.items()), sweep_dir / "runs.csv")
        for o in crashed:
            log.warning("recorded as failed: %s (%s)", " ".join(o.overrides), o.error)
        if any(o.machine_failed for o in outcomes):
            raise machine_failure(outcomes, sweep_dir, "run", "of the grid")
        if outcomes and all(o.objective is None for o in outcomes):
            raise no_result(sweep_dir, len(outcomes))
