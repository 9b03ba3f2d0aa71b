"""The pruning audit (``nnsweep.sweeps.audit``) on sweeps whose answers are worked out by hand, and
on a real search: replaying the pruner on the unpruned search of a seed gives the pruned set of
the pruned search of that seed."""

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nnsweep.core.status import Status
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.audit import (
    AuditError,
    SweepCurves,
    TrialCurve,
    audit,
    load_curves,
    rank_correlations,
    replay,
    trusted_from,
)
from nnsweep.sweeps.pruning import Pruner
from nnsweep.sweeps.trials import Round, Trial, TrialLog


def write_log(sweep_dir: Path, runs: list[str], **settings) -> None:
    """A grid's trial log naming ``runs`` in the order they were asked."""
    base = {"method": "grid", "direction": "maximize", "names": ["optimizer.lr"], **settings}
    trials = [
        Trial(i, run_dir=r, point=[str(i)], params={"optimizer.lr": str(i)}, status=Status.OK, told=0.0, objective=0.5)
        for i, r in enumerate(runs)
    ]
    numbers = list(range(len(runs)))
    rounds = [Round(asked=numbers, trained=[(n, None) for n in numbers], told=numbers)]
    trial_log.save(sweep_dir, TrialLog(base, trials, rounds))


def sweep_of(curves: list[list[float]], batch_size: int, statuses=None, maximize=True) -> SweepCurves:
    statuses = statuses or [Status.OK] * len(curves)
    trials = [TrialCurve(i, f"run{i}", tuple(c), s) for i, (c, s) in enumerate(zip(curves, statuses))]
    return SweepCurves(Path("s"), trials, "best_val_acc", maximize, max(len(c) for c in curves), batch_size, False)


# Six trials of four epochs (already running bests); trial 5 is a late bloomer: last at epoch 1,
# best at the end.
SIX = [
    [0.50, 0.60, 0.70, 0.71],
    [0.40, 0.55, 0.60, 0.62],
    [0.30, 0.45, 0.50, 0.52],
    [0.20, 0.30, 0.40, 0.41],
    [0.60, 0.62, 0.64, 0.65],
    [0.10, 0.20, 0.50, 0.90],
]


def test_synchronous_halving_replayed_by_hand():
    """min 1, eta 2, 4 epochs, all six in one round: rungs at 1 and 2. At epoch 1 the top
    6 // 2 = 3 continue (trials 4, 0, 1); at epoch 2 the top 3 // 2 = 1 (trial 4: 0.62 beats 0.60
    and 0.55), trained to epoch 4. Epochs: 6 + 3 + 2 = 11 of 24. The winner (trial 5, 0.90) was
    pruned at epoch 1, so 0.90 - 0.65 = 0.25 is lost, and of the top three (5, 0, 4) one finished."""
    result = replay(sweep_of(SIX, batch_size=6), Pruner("asha", 1, 2))
    assert result.pruned == {0, 1, 2, 3, 5} and result.finished == {4}
    assert (result.epochs_trained, result.epochs_unpruned) == (11, 24)
    assert result.share == pytest.approx(11 / 24)
    assert not result.winner_kept and result.top3_kept == 1
    assert result.lost == pytest.approx(0.25)


def test_one_trial_a_round_fills_free_epochs_with_new_trials():
    """batch 1, min 1, eta 3, 4 epochs (rungs 1 and 3). Round 1: trial 0 to epoch 1, alone at
    the rung: kept (k = max(1, 1 // 3) = 1). Round 2: trial 0 to epoch 3 (2 epochs) leaves one
    epoch free: new_per_round = max(1, (1 * 2 - 2) // 1) = 1, so trial 1 to epoch 1; at rung 1,
    values 0.50, 0.40: k = 1, trial 1 pruned; trial 0 at rung 3 alone: kept. Round 3: trial 0
    to 4 (1 epoch), trial 2 to 1: 0.30 < 0.50, pruned. Round 4: trial 3 (0.20): pruned.
    Round 5: trial 4 (0.60) kept at 1; round 6: to 3 (0.64) beside trial 5 at 1 (0.10, pruned);
    values at 3: 0.70, 0.64, k = max(1, 2 // 3) = 1: trial 4 pruned at rung 3."""
    result = replay(sweep_of(SIX, batch_size=1), Pruner("asha", 1, 3))
    assert result.finished == {0} and result.pruned == {1, 2, 3, 4, 5}
    assert result.epochs_trained == 4 + 1 + 1 + 1 + 3 + 1


def test_a_trial_that_ends_by_itself_at_a_rung_is_not_judged():
    """Trial 1 stopped early at epoch 1: in a pruned search it ends there too, not paused; the
    rung then holds five values (k = 2)."""
    statuses = [Status.OK, Status.EARLY_STOPPED, Status.OK, Status.OK, Status.OK, Status.OK]
    curves = [SIX[0], [0.40], *SIX[2:]]
    result = replay(sweep_of(curves, batch_size=6, statuses=statuses), Pruner("asha", 1, 2))
    assert 1 in result.finished and result.pruned == {2, 3, 5, 0}
    assert result.epochs_unpruned == 21


def test_rank_correlation_and_its_interval_by_hand():
    """Eight trials; epoch 1 ranks them 1..8, the end 3 1 2 5 4 8 6 7: sum of d^2 = 14, so
    rho = 1 - 6 * 14 / (8 * 63) = 5/6; interval tanh(atanh(5/6) -+ 1.96 * 1.06 / sqrt(5))."""
    final = [3, 1, 2, 5, 4, 8, 6, 7]
    curves = [[0.1 * (i + 1), 0.1 * final[i]] for i in range(8)]
    [c] = rank_correlations(sweep_of(curves, batch_size=8))
    half = 1.959964 * 1.06 / math.sqrt(5)
    assert (c.epoch, c.trials) == (1, 8)
    assert c.rho == pytest.approx(5 / 6)
    assert c.low == pytest.approx(math.tanh(math.atanh(5 / 6) - half), abs=1e-6)
    assert c.high == pytest.approx(math.tanh(math.atanh(5 / 6) + half), abs=1e-6)
    assert trusted_from([c]) is None  # its lower bound is 0.36


def test_ranks_are_trusted_from_the_first_epoch_after_which_every_bound_holds():
    """Twenty trials whose epoch-1 ranks are noise and whose later epochs rank as the end."""
    order = [7, 2, 15, 11, 0, 19, 4, 13, 9, 1, 17, 6, 12, 3, 18, 10, 5, 14, 8, 16]
    curves = [[0.01 * order[i], 0.01 * i + 0.3, 0.01 * i + 0.4, 0.01 * i + 0.5] for i in range(20)]
    found = rank_correlations(sweep_of(curves, batch_size=20))
    assert [c.epoch for c in found] == [1, 2, 3]
    assert found[1].rho == found[2].rho == pytest.approx(1.0)
    assert abs(found[0].rho) < 0.5 and trusted_from(found) == 2


def test_too_few_trials_give_no_correlation():
    assert rank_correlations(sweep_of(SIX[:5], batch_size=5)) == []


def test_a_pruned_sweep_is_not_audited():
    sweep = sweep_of(SIX, batch_size=6)
    with pytest.raises(AuditError, match="was itself pruned"):
        audit(SweepCurves(**{**vars(sweep), "pruned_already": True}))


def test_every_setting_is_replayed():
    rows = audit(sweep_of(SIX, batch_size=6))
    assert [(r.pruner.min_epochs, r.pruner.reduction_factor) for r in rows] == [
        (m, eta) for m in (1, 2, 3) for eta in (2, 3, 4)
    ]


def test_curves_are_read_as_the_pruner_saw_them(tmp_path):
    """best_val_acc after each epoch is the best so far; an epoch without a value (NaN) keeps it,
    and before any value there is none."""
    epochs = pd.DataFrame(
        {"run": ["a"] * 4 + ["b"] * 2, "epoch": [1, 2, 3, 4, 1, 2], "val_acc": [0.5, 0.4, 0.6, None, None, 0.3]}
    )
    runs = pd.DataFrame({"run": ["a", "b", "c"], "status": ["diverged", "ok", "failed"]})
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"objective": "best_val_acc", "hydra": {"sweeper": {}}}))
    write_log(tmp_path, ["b", "a", "c"])
    sweep = load_curves(tmp_path, runs, epochs)
    assert [c.values for c in sweep.trials] == [(None, 0.3), (0.5, 0.5, 0.6, 0.6), ()]  # the log's order
    assert [c.status for c in sweep.trials] == [Status.OK, Status.DIVERGED, Status.FAILED]
    assert sweep.batch_size == 3 and sweep.max_epochs == 4 and sweep.maximize  # a grid: all in one round


def test_sweeps_the_audit_cannot_replay_are_refused(tmp_path):
    epochs = pd.DataFrame({"run": ["a", "a"], "epoch": [1, 2], "val_acc": [0.5, 0.6]})
    runs = pd.DataFrame({"run": ["a"], "status": ["ok"]})
    with pytest.raises(AuditError, match="no trials.json"):
        load_curves(tmp_path, runs, epochs)
    write_log(tmp_path, ["a"], repeats={"n": 2, "key": "trainer.seed"})
    with pytest.raises(AuditError, match="repeats each point"):
        load_curves(tmp_path, runs, epochs)
    write_log(tmp_path, ["a"])
    (tmp_path / "multirun.yaml").write_text("hydra: [unclosed")
    with pytest.raises(AuditError, match="multirun.yaml is damaged"):
        load_curves(tmp_path, runs, epochs)


def test_a_perfect_order_still_has_an_interval():
    """rho = 1 over 6 trials: Fisher's z is infinite there; the lower bound is that of the next
    value rho can take, 1 - 12 / (6 * 35) = 0.943, with the same half-width 1.96 * 1.06 / sqrt(3)."""
    curves = [[0.1 * i, 0.1 * i + 0.05] for i in range(6)]
    [c] = rank_correlations(sweep_of(curves, batch_size=6))
    nearest = 1 - 12 / 210
    assert c.rho == 1 and c.high == 1
    assert c.low == pytest.approx(math.tanh(math.atanh(nearest) - 1.959964 * 1.06 / math.sqrt(3)), abs=1e-6)
    assert c.low < 0.52  # six trials in order prove little


@pytest.mark.slow
def test_the_replay_reproduces_a_real_pruned_search(tmp_path):
    """The same random search (seed 3, 8 trials) run unpruned and pruned: the same points, and the pruner
    replayed on the unpruned record prunes exactly the trials the real pruner pruned, after the
    same number of epochs."""
    from nnsweep.reports.tables import load_tables
    from nnsweep.sweeps import trials as trial_log
    from tests.experiments.conftest import run_module
    from tests.reliability.conftest import TINY

    def search(name: str, *extra: str) -> Path:
        result = run_module(
            "nnsweep.experiments.train",
            "-m",
            "hydra/sweeper=nnsweep",
            "hydra.sweeper.engine=random",
            "hydra.sweeper.seed=3",
            "hydra.sweeper.n_trials=8",
            "hydra.sweeper.batch_size=2",
            "hydra.sweeper.live_report=false",
            "hydra/launcher=basic",  # in this process: a pruned search's many rounds start no worker pools
            "optimizer.lr=tag(log, interval(0.01, 3.0))",
            "net.hidden.0=int(interval(4, 32))",
            *TINY,
            "trainer.epochs=9",
            *extra,
            f"hydra.sweep.dir={tmp_path / name}",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return tmp_path / name

    full = search("full")
    pruned = search("pruned", "hydra.sweeper.pruner.method=asha", "hydra.sweeper.pruner.min_epochs=1")
    full_log, pruned_log = trial_log.load(full), trial_log.load(pruned)
    assert [t.point for t in full_log.trials] == [t.point for t in pruned_log.trials]
    tables = load_tables(full)
    replayed = replay(load_curves(full, tables.runs, tables.epochs), Pruner("asha", 1, 3))
    real = {t.number for t in pruned_log.trials if t.status == Status.PRUNED}
    assert real and replayed.pruned == real
    assert replayed.epochs_trained == int(load_tables(pruned).runs["epochs_completed"].sum())


def write_six(sweep_dir: Path) -> Path:
    """SIX as a collected grid of six runs, asked in order (one round of all six)."""
    sweep_dir.mkdir()
    write_log(sweep_dir, [f"r{i}" for i in range(len(SIX))])
    rows = [{"run": f"r{i}", "epoch": e + 1, "val_acc": v} for i, c in enumerate(SIX) for e, v in enumerate(c)]
    pd.DataFrame(rows).to_csv(sweep_dir / "epochs.csv", index=False)
    runs = [{"run": f"r{i}", "status": "ok", "best_val_acc": c[-1], "val_size": 500} for i, c in enumerate(SIX)]
    pd.DataFrame(runs).to_csv(sweep_dir / "runs.csv", index=False)
    return sweep_dir


def test_audit_pruning_prints_the_hand_worked_table(tmp_path):
    from tests.experiments.conftest import run_module

    result = run_module("nnsweep", "audit-pruning", str(write_six(tmp_path / "six")), "--min-epochs", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("1           2"))
    assert row.split()[2:] == [
        "11",
        "of",
        "24",
        "(46%)",
        "no",
        "1",
        "of",
        "3",
        "25.00",
        "points",
        "(125",
        "validation",
        "digits)",
    ]
    assert "Early ranks: not estimated; it takes at least 6 trials" not in result.stdout  # six trials: estimated
    assert "no setting tried keeps the winner" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing"], "does not exist"),
        (["six", "--min-epochs", "0"], "--min-epochs takes whole numbers of at least 1"),
        (["six", "--reduction-factors", "x"], "--reduction-factors takes whole numbers of at least 2"),
    ],
)
def test_audit_pruning_bad_input_is_one_line(tmp_path, args, message):
    from tests.experiments.conftest import run_module

    write_six(tmp_path / "six")
    result = run_module(
        "nnsweep", "audit-pruning", *[str(tmp_path / a) if a in ("six", "missing") else a for a in args]
    )
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
