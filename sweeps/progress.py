"""A sweep's progress as runs finish: one line each time the count of finished runs changes.

    sweep multirun/opt: 5/12 done, 1 failed; best so far: best_val_acc 0.942 at optimizer=adam
    optimizer.lr=0.01; elapsed 1:02, ETA 1:27      (one line; wrapped here)

In a pruned search a trial is done once it was pruned (counted as such) or trained to its end;
the best so far is among the trials trained to their end, whose objective is comparable.

Hydra's launchers (joblib, submitit, Ray) return only once a whole batch is done, so a sweeper
cannot count results as the launcher hands them back. Every run writes its ``summary.json``
into the sweep directory, though, whichever launcher or machine ran it: while the sweep runs, a
daemon thread reads them there about once a second (through ``runrecord``) and reports. What
the launcher returns at the end of a batch (``nnsweep.sweeps.outcomes.Outcome``) settles each trial for
good, so a task that leaves no run record (any Hydra app) is counted too, a batch at a time.

Runs that finished before this invocation (a resumed sweep, a trial reused from disk) count as
done, but not in the rate that gives the ETA: no time of this invocation went into them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from nnsweep.runrecord import RunDir, RunRecordError, Status, Summary, find_runs, override_key
from nnsweep.sweeps.collect import SEED_KEYS
from nnsweep.sweeps.outcomes import Outcome, trial_key

log = logging.getLogger("nnsweep.sweep")
POLL_S = 1.0  # how often the sweep directory is read while runs train
# The line is printed again after this long without news, with the epochs the training runs have
# done: a sweep whose runs take minutes each never looks hung (per-epoch lines go to train.log).
HEARTBEAT_S = 15.0


@dataclass
class Result:
    """How one trial of the sweep ended."""

    status: Status
    objective: float | None
    before: bool  # finished before this invocation started on it: no part of the rate
    at_chance: bool = False  # ended without learning (``Summary.at_chance``): not a result


class SweepProgress:
    """Counts a sweep's finished trials and prints a line when the count changes.

    A sweeper says which trials it will run (``expect``, with their overrides), what the
    launcher returned for them (``settle``), and runs its batches inside ``watching()``, which
    reads the runs' summaries while they train.

    ``total``: the trials of the whole sweep (a grid's points, a search's budget).
    ``swept``: the override keys that name a point in the line (default: those whose value
    differs between the expected trials). ``direction``: ``maximize`` or ``minimize`` the
    objective (default: as each run's summary says, else maximize).
    """

    def __init__(
        self,
        sweep_dir: str | Path,
        total: int,
        swept: Iterable[str] | None = None,
        direction: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sweep_dir, self.total = Path(sweep_dir), total
        self.swept = None if swept is None else set(swept)
        self.direction = direction
        self.clock = clock
        self.started = clock()
        self.objective_name: str | None = None
        self._trials: Counter[str] = Counter()  # trial_key -> trials of the sweep at that point
        self._overrides: dict[str, list[str]] = {}
        self._results: dict[str, Result] = {}
        self._settled: set[str] = set()  # told by the launcher: the files no longer change them
        self._keys: dict[Path, str] = {}  # run directory -> its trial key (overrides never change)
        self._shown: tuple | None = None
        self._shown_at = self.started
        self._training: dict[str, tuple[int, int]] = {}  # trial key -> (epochs done, epoch budget)
        self._lock = threading.RLock()

    # ----- what the sweeper tells ----------------------------------------------------------
    def expect(self, batch: Sequence[Sequence[str]]) -> None:
        """Trials the sweep will run; those whose run already finished on disk count as done
        before this invocation."""
        with self._lock:
            for overrides in batch:
                key = trial_key(overrides)
                self._trials[key] += 1
                self._overrides.setdefault(key, list(overrides))
            self._poll(before=True)
            self._report()

    def settle(self, outcomes: Sequence[Outcome], before: bool = False) -> None:
        """What the launcher returned for expected trials. With ``before``: trials an earlier
        invocation finished and recorded (a search's trial log), each one a trial of its own."""
        with self._lock:
            for outcome in outcomes:
                key = trial_key(outcome.overrides)
                if before or key not in self._trials:
                    self._trials[key] += 1
                    self._overrides.setdefault(key, list(outcome.overrides))
                summary = self._summary_of(outcome)
                if summary is not None:
                    self._learn(summary)
                self._training.pop(key, None)
                if outcome.status.is_finished():
                    known = self._results.get(key)
                    self._results[key] = Result(
                        outcome.status,
                        outcome.objective,
                        known.before if known else before,
                        summary is not None and summary.at_chance,
                    )
                    self._settled.add(key)
                else:  # the machine failed under it: not done, a rerun retries it
                    self._results.pop(key, None)
            self._report()

    @contextmanager
    def watching(self, interval: float = POLL_S) -> Iterator["SweepProgress"]:
        """Read the runs' summaries every ``interval`` seconds in a daemon thread while the body
        runs; the thread ends with the body, also on Ctrl-C or an error."""
        stop = threading.Event()
        thread = threading.Thread(target=self._watch, args=(stop, interval), name="sweep-progress", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=30)

    def _watch(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                with self._lock:
                    self._poll(before=False)
                    self._report()
            except Exception as err:  # progress is a courtesy: it never stops a sweep
                log.debug("sweep progress: %s: %s", type(err).__name__, err)

    # ----- reading the runs ----------------------------------------------------------------
    def _poll(self, before: bool) -> None:
        for run in find_runs(self.sweep_dir):
            key = self._keys.get(run.path)
            if key is not None and (key not in self._trials or key in self._settled):
                continue
            try:
                summary = run.read_summary()
            except RunRecordError:
                continue  # being replaced right now: read it next time
            if summary is None:
                continue
            if key is None:  # its summary exists, so its record of overrides was written before it
                key = self._keys[run.path] = trial_key(run.overrides())
                if key not in self._trials or key in self._settled:
                    continue
            self._read(key, summary, before)

    @staticmethod
    def _summary_of(outcome: Outcome) -> Summary | None:
        """The summary of a settled trial's run, if it left one: the objective's name and
        direction, and whether it learned (a run that finished between two reads of the
        directory is settled before it was read)."""
        if outcome.run_dir is None:
            return None
        try:
            return RunDir(outcome.run_dir).read_summary()
        except RunRecordError:
            return None

    def _learn(self, summary: Summary) -> None:
        self.objective_name = self.objective_name or summary.objective
        if self.direction is None:
            self.direction = "minimize" if summary.objective_direction == "min" else "maximize"

    def _read(self, key: str, summary: Summary, before: bool) -> None:
        self._learn(summary)
        if summary.status.is_finished():
            known = self._results.get(key)
            self._results[key] = Result(
                summary.status, summary.objective_value(), known.before if known else before, summary.at_chance
            )
            self._training.pop(key, None)
        else:  # training (again: a finished run asked for more epochs)
            self._results.pop(key, None)
            self._training[key] = (summary.epochs_completed, summary.epochs or 0)

    # ----- the line ------------------------------------------------------------------------
    def counts(self) -> tuple[int, int, int, int]:
        """(done, failed, diverged, trained now): trials, the last one counting runs finished by
        this invocation, which set the pace for the ETA."""
        done = sum(self._trials[k] for k in self._results)
        failed, diverged = self._count(Status.FAILED), self._count(Status.DIVERGED)
        now = sum(1 for r in self._results.values() if not r.before)
        return done, failed, diverged, now

    def _count(self, status: Status) -> int:
        return sum(self._trials[k] for k, r in self._results.items() if r.status == status)

    def best(self) -> tuple[str, float] | None:
        """The best point so far, as its swept overrides, and its objective (of trials trained
        to their end: a pruned one stopped at fewer epochs). With repeats (points that differ
        only in their seed), the best configuration by its mean over the seeds finished so far,
        as the closing line and the report rank them, never the luckiest seed. None while every
        result ended at chance (the closing line then says that no run learned)."""
        groups: dict[str, list[float]] = {}
        broken = set()  # a seed that ended without a result: ranked after the others (configs.csv's rule)
        for key, result in self._results.items():
            if result.status == Status.PRUNED:
                continue
            if result.objective is None:
                broken.add(self._configuration(key))
            else:
                groups.setdefault(self._configuration(key), []).extend([result.objective] * self._trials[key])
        learned = [
            r
            for r in self._results.values()
            if r.objective is not None and r.status != Status.PRUNED and not r.at_chance
        ]
        if not groups or not learned:  # every run at chance: nothing learned, no best to name
            return None
        pick = min if self.direction == "minimize" else max
        whole = {c: v for c, v in groups.items() if c not in broken} or groups
        config, values = pick(whole.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
        label = self._label(config)
        if self._repeated():
            label += f" (mean of {len(values)} seed{'s' if len(values) != 1 else ''})"
        return label, sum(values) / len(values)

    def _configuration(self, key: str) -> str:
        """A trial's key without its seed: what its repeats share."""
        return " ".join(o for o in key.split(" ") if o and override_key(o) not in SEED_KEYS)

    def _repeated(self) -> bool:
        configurations = [self._configuration(k) for k in self._overrides]
        return len(set(configurations)) < len(configurations)

    def _label(self, key: str) -> str:
        swept = (self.swept if self.swept is not None else self._varying_keys()) - set(SEED_KEYS)
        overrides = self._overrides.get(key, key.split())
        named = [o for o in overrides if override_key(o) in swept]
        return " ".join(named) if named else key or "the only point"

    def _varying_keys(self) -> set[str]:
        """Keys whose value differs between the expected trials (or that some of them lack)."""
        trials = [{override_key(o): o for o in overrides} for overrides in self._overrides.values()]
        keys = set().union(*trials)
        return {k for k in keys if len({t.get(k) for t in trials}) > 1}

    def line(self) -> str:
        done, failed, diverged, now = self.counts()
        head = f"{done}/{self.total} done" + (f" ({done - now} reused)" if done > now else "")
        pruned = self._count(Status.PRUNED)
        stuck = sum(self._trials[k] for k, r in self._results.items() if r.at_chance)
        parts = [head] + [
            f"{n} {what}"
            for n, what in (
                (pruned, "pruned"),
                (failed, "failed"),
                (diverged, "diverged"),
                (stuck, "did not learn (at chance)"),
            )
            if n
        ]
        training = [self._training[k] for k in self._training if k not in self._results]
        if training:
            done_epochs, budget = sum(e for e, _ in training), sum(b for _, b in training)
            parts.append(f"{len(training)} training" + (f" (epochs {done_epochs} of {budget})" if budget else ""))
        text = f"sweep {self.sweep_dir}: {', '.join(parts)}"
        best = self.best()
        if best is not None:
            name = f"{self.objective_name} " if self.objective_name else ""
            text += f"; best so far: {name}{best[1]:.4g} at {best[0]}"
        elapsed = self.clock() - self.started
        text += f"; elapsed {clock_time(elapsed)}"
        remaining = self.total - done
        if remaining > 0:
            eta = eta_seconds(elapsed, now, remaining)
            text += f", ETA {clock_time(eta) if eta is not None else 'unknown'}"
        return text

    def _report(self) -> None:
        """Print the line if what it counts changed since it was last printed, or if nothing
        was printed for ``HEARTBEAT_S`` (then it says how far the training runs are)."""
        done, failed, diverged, _ = self.counts()
        state = (done, failed, diverged, self._count(Status.PRUNED), self.best())
        quiet = self.clock() - self._shown_at >= HEARTBEAT_S
        if (done and state != self._shown) or (quiet and self._trials):
            log.info("%s", self.line())
            self._shown_at = self.clock()
        self._shown = state


def eta_seconds(elapsed: float, finished_now: int, remaining: int) -> float | None:
    """Seconds until ``remaining`` more trials finish, at the pace of the ``finished_now``
    trials this invocation finished in ``elapsed`` seconds (parallel jobs included: it is their
    throughput); None before the first one."""
    if remaining <= 0:
        return 0.0
    if finished_now <= 0:
        return None
    return elapsed / finished_now * remaining


def clock_time(seconds: float) -> str:
    """``1:02`` (minutes:seconds), ``2:03:04`` from an hour on."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
