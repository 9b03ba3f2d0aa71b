"""Can pruning be trusted on this sweep? Answered from the record of a finished sweep alone.

Two questions, both from every epoch of every trial (``epochs.csv``), in the order the search
asked its trials (``trials.json``):

1. **Do early epochs rank trials as late ones do?** For each epoch, Spearman's rank correlation
   between the trials' objective after that epoch and their final objective, with a 95%
   interval (Fisher's z with the standard error ``1.06 / sqrt(n - 3)`` of Fieller, Hartley and
   Pearson, 1957, the usual one for Spearman's coefficient). Ranks can be trusted from the
   first epoch after which every lower bound is at least ``TRUSTED_RHO``.
2. **What would a pruner have done?** The sweep's trials replayed through successive halving
   with other ``min_epochs`` and ``reduction_factor``: the rounds and decisions are made by the
   sweeper's own code (``nnsweep.sweeps.rounds``: which trials a round trains, how many new
   ones it starts, who continues at a rung), told each trial's recorded value at each epoch
   instead of training it. A pruned run is its unpruned run stopped early (the same points,
   ``nnsweep.sweeps.engines.RandomEngine``, and the same epochs: a paused run continues
   exactly), so on the unpruned search of a seed this reproduces the pruned search of that seed.
   For each setting: the share of the epochs it trains, whether the winner and the top three
   survive, and the best objective it would have lost.

Nothing here trains or writes: ``nnsweep audit-pruning`` prints it and the report draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nnsweep.core.errors import NnsweepError
from nnsweep.core.objectives import DEFAULT_OBJECTIVE, OBJECTIVES
from nnsweep.core.status import Status
from nnsweep.runrecord.bounded import RecordFormatError, parse_yaml, read_record_text
from nnsweep.sweeps import rounds
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.launch import MULTIRUN_RECORD
from nnsweep.sweeps.pruning import Pruner
from nnsweep.sweeps.trials import Trial

TRUSTED_RHO = 0.8  # the lower 95% bound of the rank correlation from which early ranks are trusted
MIN_TRIALS = 6  # fewer trials: no rank correlation is reported (its interval spans almost everything)
MIN_EPOCHS_CHOICES = (1, 2, 3, 5)
REDUCTION_FACTORS = (2, 3, 4)
# Statuses a run ends by itself before its last epoch: it would end there in a pruned search too.
ENDED_EARLY = {Status.EARLY_STOPPED, Status.DIVERGED, Status.FAILED}


class AuditError(NnsweepError, ValueError):
    """A sweep that cannot be audited (the message says why and what to do)."""


@dataclass(frozen=True)
class TrialCurve:
    """One trial as the audit sees it: its objective after each epoch it trained (``None`` where
    there is none yet: no finite validation value), and how its run ended."""

    number: int
    run: str
    values: tuple[float | None, ...]
    status: Status

    @property
    def epochs(self) -> int:
        return len(self.values)

    @property
    def final(self) -> float | None:
        return self.values[-1] if self.values else None


@dataclass(frozen=True)
class SweepCurves:
    """A sweep's trials in the order they were asked, and what the pruner would need to know."""

    sweep_dir: Path
    trials: list[TrialCurve]
    objective: str
    maximize: bool
    max_epochs: int
    batch_size: int  # new trials a round starts, as the sweep was run
    pruned_already: bool  # the sweep itself was pruned: its trials stopped at rungs cannot be replayed further
    val_size: int | None = None  # validation examples: one digit is 1 / val_size of an accuracy

    @property
    def one_digit(self) -> float | None:
        """The smallest difference of an accuracy objective the validation set can show."""
        return 1 / self.val_size if self.val_size and self.objective.endswith("acc") else None


@dataclass(frozen=True)
class RankCorrelation:
    epoch: int
    trials: int
    rho: float
    low: float
    high: float


@dataclass(frozen=True)
class PrunerReplay:
    """What successive halving with ``pruner`` would have done to the sweep."""

    pruner: Pruner
    epochs_trained: int
    epochs_unpruned: int
    pruned: frozenset[int]  # trial numbers
    finished: frozenset[int]  # trained to their end (the last epoch, or where they ended by themselves)
    best_unpruned: float | None
    best_kept: float | None
    winner_kept: bool
    top3_kept: int

    @property
    def share(self) -> float:
        return self.epochs_trained / self.epochs_unpruned if self.epochs_unpruned else math.nan

    @property
    def lost(self) -> float:
        """How much worse the best finished trial is than the unpruned best (0: nothing lost)."""
        if self.best_unpruned is None or self.best_kept is None:
            return math.nan
        return abs(self.best_unpruned - self.best_kept)


# --- reading the sweep ---------------------------------------------------------------------------


def objective_curve(rows: pd.DataFrame, objective: str) -> tuple[float | None, ...]:
    """A run's objective after each epoch, as its summary would have said had it stopped there."""
    column = "val_loss" if objective == "best_val_loss" else "val_acc"
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    values = np.where(np.isfinite(values), values, np.nan)
    if objective == "best_val_acc":  # the best so far: an epoch without a value (diverged) keeps it
        values = np.fmax.accumulate(values)
    elif objective == "best_val_loss":
        values = np.fmin.accumulate(values)
    return tuple(None if math.isnan(v) else float(v) for v in values)


def sweep_settings(sweep_dir: Path) -> dict:
    """``hydra.sweeper`` and ``objective`` of the sweep's config (``multirun.yaml``), read as data:
    nothing when there is none; a damaged one is an ``AuditError`` (read otherwise, its batch size
    and objective would silently change every answer)."""
    path = Path(sweep_dir) / MULTIRUN_RECORD
    if not path.is_file():
        return {}
    try:
        config = parse_yaml(read_record_text(path))
    except (OSError, RecordFormatError) as err:
        config = err
    sweeper = config.get("hydra", {}).get("sweeper") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("hydra"), dict) or not isinstance(sweeper, dict):
        why = f" ({' '.join(str(config).split())[:120]})" if isinstance(config, Exception) else ""
        raise AuditError(
            f"{path} is damaged{why}: it no longer says how the sweep ran; rerun the sweep's own command, "
            "which writes it again and reuses every finished run"
        )
    return {"batch_size": sweeper.get("batch_size"), "objective": config.get("objective")}


def sweep_objective(settings: dict, log: trial_log.TrialLog | None) -> tuple[str, bool]:
    """The objective a sweep optimised (``sweep_settings``' ``objective``; by default
    ``best_val_acc``) and whether it was maximised (as its trial log says, else as the objective is)."""
    objective = settings.get("objective") if settings.get("objective") in OBJECTIVES else DEFAULT_OBJECTIVE
    direction = log.settings.get("direction") if log is not None else None
    if direction in ("maximize", "minimize"):
        return objective, direction == "maximize"
    return objective, OBJECTIVES[objective] == "max"


def load_curves(sweep_dir: str | Path, runs: pd.DataFrame, epochs: pd.DataFrame) -> SweepCurves:
    """The sweep's trials, in the order its trial log says they were asked, with their curves
    from ``epochs``. A sweep without a trial log is refused: the order decides which trials a
    replayed pruner sees first (runs.csv lists the best first, which would flatter it); so is one
    with repeats (the pruner prunes with one seed per point)."""
    sweep_dir = Path(sweep_dir)
    if epochs.empty:
        raise AuditError(f"{sweep_dir} has no epochs.csv rows to audit; collect it first: nnsweep collect {sweep_dir}")
    log = trial_log.load(sweep_dir)
    if log is None:
        raise AuditError(
            f"{sweep_dir} has no trials.json, so the order its trials were asked in is unknown; the audit "
            "replays sweeps run by nnsweep's sweepers (nnsweep sweep-lr, -m grids and searches)"
        )
    if log.settings.get("repeats") or any(t.repeats for t in log.trials):
        raise AuditError(
            f"{sweep_dir} repeats each point with several seeds, and a pruner prunes with one seed per point; "
            "audit a sweep without repeats of the same space"
        )
    settings = sweep_settings(sweep_dir)
    objective, maximize = sweep_objective(settings, log)
    by_run = dict(tuple(epochs.groupby("run", sort=False)))
    status_of = dict(zip(runs["run"], runs["status"]))
    curves = []
    for trial in log.trials:
        try:
            status = Status(status_of.get(trial.run_dir, "failed"))
        except ValueError:
            status = Status.FAILED
        # a trial without epochs (it failed before its first) still takes its place in the rounds
        rows = by_run.get(trial.run_dir)
        values = objective_curve(rows, objective) if rows is not None else ()
        curves.append(TrialCurve(len(curves), str(trial.run_dir), values, status))
    if not any(c.epochs for c in curves):
        raise AuditError(f"{sweep_dir}: none of its trials has a recorded epoch")
    batch = settings.get("batch_size")
    is_grid = log.settings.get("method") == "grid"
    batch_size = batch if isinstance(batch, int) and batch >= 1 else (len(curves) if is_grid else 1)
    max_epochs = max(c.epochs for c in curves)
    pruned_already = log.rungs is not None
    sizes = pd.to_numeric(runs["val_size"], errors="coerce").dropna() if "val_size" in runs else pd.Series([])
    val_size = int(sizes.min()) if len(sizes) and sizes.min() > 0 else None
    return SweepCurves(sweep_dir, curves, objective, maximize, max_epochs, batch_size, pruned_already, val_size)


# --- 1. do early epochs rank as late ones do? ------------------------------------------------------


def rank_correlations(sweep: SweepCurves) -> list[RankCorrelation]:
    """Per epoch before the last, Spearman's rho between each trial's objective then and at its
    end, over the trials with both, with its 95% interval; epochs with fewer than ``MIN_TRIALS``
    such trials, or values all alike, are left out."""
    from scipy import stats  # here, not at import: a third of a second most commands never need

    z = stats.norm.ppf(0.975)
    found = []
    for epoch in range(1, sweep.max_epochs):
        pairs = [
            (c.values[epoch - 1], c.final)
            for c in sweep.trials
            if c.epochs > epoch and c.values[epoch - 1] is not None and c.final is not None
        ]
        if len(pairs) < MIN_TRIALS:
            continue
        early, late = np.array(pairs).T
        if np.ptp(early) == 0 or np.ptp(late) == 0:
            continue
        rho = float(stats.spearmanr(early, late).statistic)
        found.append(RankCorrelation(epoch, len(pairs), rho, *fisher_interval(rho, len(pairs), z)))
    return found


def fisher_interval(rho: float, n: int, z: float) -> tuple[float, float]:
    """Fisher's z interval of Spearman's rho over ``n`` pairs. At rho = +-1 (every trial in the
    same order) z is infinite and the interval would be a point; there the inner bound is that of
    the nearest value rho can take short of it (one adjacent pair swapped: 1 - 12 / (n (n^2 - 1))),
    a conservative bound, and the outer one is +-1."""
    half = z * 1.06 / math.sqrt(n - 3)
    nearest = 1 - 12 / (n * (n * n - 1))
    if rho >= 1 - 1e-12:
        return math.tanh(math.atanh(nearest) - half), 1.0
    if rho <= -1 + 1e-12:
        return -1.0, math.tanh(-math.atanh(nearest) + half)
    centre = math.atanh(rho)
    return math.tanh(centre - half), math.tanh(centre + half)


def trusted_from(correlations: list[RankCorrelation]) -> int | None:
    """The first epoch from which every later epoch's lower bound is at least ``TRUSTED_RHO``."""
    start = None
    for c in correlations:
        if c.low >= TRUSTED_RHO:
            start = c.epoch if start is None else start
        else:
            start = None
    return start


# --- 2. what would a pruner have done? --------------------------------------------------------------


def replay(sweep: SweepCurves, pruner: Pruner) -> PrunerReplay:
    """Successive halving with ``pruner`` on the recorded trials, round by round as the sweeper
    runs it (``nnsweep.sweeps.search._run``), with the sweeper's own scheduling and rule."""
    rungs, last = pruner.rungs(sweep.max_epochs), sweep.max_epochs
    curve = {c.number: c for c in sweep.trials}
    trials: list[Trial] = []
    trained = 0
    while True:
        jobs = [(t, rounds.next_rung(t, rungs, last)) for t in rounds.paused(trials)]
        k = min(rounds.new_per_round(jobs, rungs, sweep.batch_size), len(sweep.trials) - len(trials))
        new = [Trial(len(trials) + i) for i in range(max(k, 0))]
        jobs += [(t, rungs[0]) for t in new]
        if not jobs:
            break
        reached: dict[int, list[Trial]] = {}
        for trial, target in jobs:
            c = curve[trial.number]
            stops_there = c.epochs > target or (c.epochs == target and c.status not in ENDED_EARLY)
            done_before = trial.epochs or 0
            if target < last and stops_there:  # paused at its rung, to be judged
                trial.epochs, trial.objective = target, c.values[target - 1]
                reached.setdefault(target, []).append(trial)
            else:  # trained to its end
                trial.epochs, trial.objective, trial.status, trial.told = c.epochs, c.final, c.status, 0.0
            trained += trial.epochs - done_before
        for epochs, judged in reached.items():
            for gone in rounds.judge(epochs, judged, trials + new, pruner.reduction_factor, sweep.maximize):
                gone.told = 0.0
        trials.extend(new)
    pruned = frozenset(t.number for t in trials if t.status == Status.PRUNED)
    finished = frozenset(t.number for t in trials if t.status != Status.PRUNED)
    return _outcome(sweep, pruner, trained, pruned, finished)


def _outcome(sweep: SweepCurves, pruner: Pruner, trained: int, pruned, finished) -> PrunerReplay:
    sign = 1.0 if sweep.maximize else -1.0
    scored = sorted((c for c in sweep.trials if c.final is not None), key=lambda c: -sign * c.final)
    best = scored[0].final if scored else None
    kept = [c.final for c in scored if c.number in finished]
    return PrunerReplay(
        pruner,
        trained,
        sum(c.epochs for c in sweep.trials),
        pruned,
        finished,
        best,
        kept[0] if kept else None,
        bool(scored) and scored[0].number in finished,
        sum(1 for c in scored[:3] if c.number in finished),
    )


def audit(sweep: SweepCurves, min_epochs=MIN_EPOCHS_CHOICES, factors=REDUCTION_FACTORS) -> list[PrunerReplay]:
    """The replay for each ``min_epochs`` x ``reduction_factor`` that leaves something to prune."""
    if sweep.pruned_already:
        raise AuditError(
            f"{sweep.sweep_dir} was itself pruned: its pruned trials have no later epochs to replay another "
            "pruner on; audit an unpruned sweep of the same space (hydra.sweeper.pruner.method=none)"
        )
    return [replay(sweep, Pruner("asha", m, eta)) for m in min_epochs for eta in factors if m < sweep.max_epochs]
