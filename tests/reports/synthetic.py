"""A collected sweep written directly (runs.csv, epochs.csv, the best run's record), no training.

The tables have the columns ``nnsweep.sweeps.collect`` writes; the best run's directory holds what
training leaves behind (model.npz, evaluation.json, test_errors.npz), so every figure of a report
can be drawn in a second or two, or at any size (20 runs x 1,000 epochs) for memory tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from nnsweep.nets.architectures import mlp
from nnsweep.nets.checkpoint import save_checkpoint
from nnsweep.nets.network import Network
from nnsweep.runrecord import RunDir, Status, TestErrors

SOURCE = "synthetic test split"
GROUP_KEYS = ("optimizer", "net")  # config groups a grid may vary (their overrides have no dot)


def confusion(classes: int = 10, n_per_class: int = 50) -> np.ndarray:
    """A recognisable confusion matrix: class k loses k digits to class (k + 1) % classes."""
    matrix = np.diag(np.full(classes, n_per_class))
    for k in range(classes):
        matrix[k, k] -= k
        matrix[k, (k + 1) % classes] += k
    return matrix


def write_run_record(run: RunDir, diverged: bool = False) -> None:
    """A tiny sigmoid MLP (so the portraits are Rashid's fast back query), its evaluation and its
    five most confident mistakes."""
    run.path.mkdir(parents=True, exist_ok=True)
    network = Network(mlp([8], "sigmoid", loss="quadratic"), np.random.default_rng(0))
    if diverged:
        network.layers[0].params["W"][...] = np.nan
    save_checkpoint(run.model_path, network)
    matrix = confusion()
    predicted_wrong = int(matrix.sum() - np.trace(matrix))
    run.write_evaluation(
        {
            "run_dir": str(run.path),
            "test_source": SOURCE,
            "n_test": int(matrix.sum()),
            "test_acc": float(np.trace(matrix) / matrix.sum()),
            "confusion": matrix.tolist(),
            "per_class_acc": (np.diag(matrix) / matrix.sum(axis=1)).tolist(),
            "misclassified": list(range(predicted_wrong)),
        }
    )
    rng = np.random.default_rng(1)
    run.write_test_errors(
        TestErrors(
            images=rng.random((5, 784), dtype=np.float32),
            labels=np.arange(5),
            predicted=np.arange(1, 6) % 10,
            confidence=np.linspace(0.9, 0.5, 5),
            source=np.array(SOURCE),
        )
    )


def write_sweep(
    sweep_dir: Path, lrs=(0.01, 0.1, 1.0), epochs: int = 4, model: bool = True, diverged_model: bool = False
) -> pd.DataFrame:
    """An lr sweep's runs.csv and epochs.csv (best run first); with the best run's record if
    ``model``. Returns the runs table."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    runs, rows = [], []
    settings = {
        "net_name": "rashid",
        "hidden": "8",
        "optimizer_name": "sgd",
        "l2": 0.0,
        "batch_size": 10,
        "epochs": epochs,
        "seed": 0,
        "data_name": "mnist5k",
    }
    t = np.arange(1, epochs + 1)
    for lr in lrs:
        run = f"optimizer.lr={lr}"
        quality = 1 - abs(np.log10(lr) - np.log10(np.median(lrs))) / 4  # the middle rate learns best
        val = 0.1 + 0.8 * quality * (1 - np.exp(-t / max(epochs / 4, 1)))
        train = np.minimum(val + 0.02 * t / epochs, 1.0)
        best = int(np.argmax(val))
        for e in range(epochs):
            rows.append(
                {
                    "run": run,
                    "optimizer.lr": lr,
                    **settings,
                    "base_lr": lr,
                    "epoch": e + 1,
                    "lr": lr,
                    "train_loss": 1 / (e + 1),
                    "train_acc": train[e],
                    "val_loss": 1.1 / (e + 1),
                    "val_acc": val[e],
                    "seconds": 0.1,
                }
            )
        runs.append(
            {
                "run": run,
                "optimizer.lr": lr,
                **settings,
                "lr": lr,
                "status": "ok",
                "best_val_acc": val[best],
                "best_epoch": best + 1,
                "final_val_acc": val[-1],
                "best_val_loss": 1.1 / epochs,
                "test_acc": val[best] - 0.01,
                "epochs_completed": epochs,
                "diverged_epoch": np.nan,
                "wall_time_s": 0.1 * epochs,
                "n_params": 6370,
                "error": "",
            }
        )
    table = pd.DataFrame(runs).sort_values("best_val_acc", ascending=False, kind="stable")
    table.to_csv(sweep_dir / "runs.csv", index=False)
    pd.DataFrame(rows).to_csv(sweep_dir / "epochs.csv", index=False)
    if model:
        write_run_record(RunDir(sweep_dir / table.iloc[0]["run"]), diverged=diverged_model)
    return table


def write_trial_log(
    sweep_dir: Path,
    names=("optimizer.lr",),
    values=(0.01, 0.1, 1.0),
    method: str = "gp",
    points=None,
    objectives=None,
    statuses=None,
) -> dict:
    """A valid trial log as the sweeper writes it (through ``nnsweep.sweeps.trials``): one trial per round.
    ``points`` (one list of values per trial, in the order of ``names``) replaces ``values``;
    ``objectives`` (default 0.5, 0.6, 0.7 ...) and ``statuses`` (default "ok") one per trial."""
    from nnsweep.sweeps.trials import Round, Trial, TrialLog, save

    points = [list(p) for p in points] if points is not None else [[v] for v in values]
    objectives = objectives if objectives is not None else [0.5 + 0.1 * i for i in range(len(points))]
    statuses = statuses or ["ok"] * len(points)
    trials = [
        Trial(i, i, f"{i}", point, dict(zip(names, point)), o, Status(st), -o if o is not None else 0.0, 3)
        for i, (point, o, st) in enumerate(zip(points, objectives, statuses))
    ]
    rounds = [Round([i], [(i, None)], [i]) for i in range(len(trials))]
    log = TrialLog({"method": method, "names": list(names), "direction": "maximize"}, trials, rounds)
    save(sweep_dir, log)
    return json.loads((sweep_dir / "trials.json").read_text())


def pruned_val_acc(lr: float, epochs: int) -> np.ndarray:
    """Validation accuracy per epoch of one synthetic trial: rates nearest 0.3 learn best, and
    every odd epoch dips a little, so the best value so far is not always the last one."""
    quality = 1 - abs(np.log10(lr) - np.log10(0.3)) / 4
    t = np.arange(1, epochs + 1)
    return 0.1 + 0.8 * quality * (1 - np.exp(-t / 3)) - 0.02 * (t % 2)


def write_pruned_sweep(sweep_dir: Path, n_trials: int = 9, max_epochs: int = 9, eta: int = 3):
    """A pruned random search over the learning rate as the sweeper and ``nnsweep.sweeps.collect`` leave
    it, and in agreement: the trial log (through ``nnsweep.sweeps.trials.save``), runs.csv (status, rung)
    and epochs.csv, whose pruned runs stop at the epoch they reached. The trials are judged together
    at each rung by the pruner's own rule (``nnsweep.sweeps.pruning``), so the survivors are the top
    ``1/eta``. Returns the log as ``nnsweep.sweeps.trials.load`` reads it back."""
    from nnsweep.sweeps.pruning import Pruner, survivors
    from nnsweep.sweeps.trials import Round, Rung, Trial, TrialLog, load, save

    sweep_dir.mkdir(parents=True, exist_ok=True)
    pruner = Pruner("asha", 1, eta)
    rungs = pruner.rungs(max_epochs)
    lrs = [float(f"{lr:.3g}") for lr in np.geomspace(0.01, 10, n_trials)]
    val = {n: pruned_val_acc(lr, max_epochs) for n, lr in enumerate(lrs)}
    trials = [Trial(n, n, f"optimizer.lr={lr}", [lr], {"optimizer.lr": lr}) for n, lr in enumerate(lrs)]
    rounds, alive = [], list(range(n_trials))
    for k, stop in enumerate([*rungs, max_epochs]):
        for n in alive:
            trials[n].epochs, trials[n].objective = stop, float(val[n][:stop].max())
        if stop == max_epochs:
            ended = alive
        else:
            at_rung = {n: t.rungs[k].value for n, t in enumerate(trials) if len(t.rungs) > k}
            at_rung.update({n: trials[n].objective for n in alive})
            kept = survivors(at_rung, alive, eta)
            for n in alive:
                trials[n].rungs.append(Rung(stop, trials[n].objective, n in kept))
            ended = [n for n in alive if n not in kept]
        for n in ended:
            trials[n].status = Status.OK if stop == max_epochs else Status.PRUNED
            trials[n].told = -trials[n].objective
        rounds.append(Round(alive if k == 0 else [], [(n, stop) for n in alive], ended))
        alive = [n for n in alive if n not in ended]
    settings = {
        "method": "random",
        "names": ["optimizer.lr"],
        "direction": "maximize",
        "pruner": {**pruner.settings(), "rungs": rungs, "max_epochs": max_epochs},
    }
    save(sweep_dir, TrialLog(settings, trials, rounds))

    stops = [*rungs, max_epochs]
    setting = {
        "net_name": "mlp",
        "hidden": "32",
        "optimizer_name": "sgd",
        "l2": 0.0,
        "batch_size": 10,
        "epochs": max_epochs,
        "seed": 0,
        "data_name": "mnist5k",
    }
    runs, rows = [], []
    for trial in trials:
        lr, reached, acc = trial.params["optimizer.lr"], trial.epochs, val[trial.number][: trial.epochs]
        for e in range(reached):
            rows.append(
                {
                    "run": trial.run_dir,
                    "optimizer.lr": lr,
                    **setting,
                    "base_lr": lr,
                    "epoch": e + 1,
                    "lr": lr,
                    "train_loss": 1 / (e + 1),
                    "train_acc": min(acc[e] + 0.03, 1.0),
                    "val_loss": 1.1 / (e + 1),
                    "val_acc": acc[e],
                    "seconds": 0.1,
                }
            )
        runs.append(
            {
                "run": trial.run_dir,
                "optimizer.lr": lr,
                **setting,
                "lr": lr,
                "status": trial.status.value,
                "rung": sum(reached >= s for s in stops) - 1,
                "best_val_acc": acc.max(),
                "best_epoch": int(np.argmax(acc)) + 1,
                "final_val_acc": acc[-1],
                "best_val_loss": 1.1 / reached,
                "test_acc": acc.max() - 0.01 if trial.status == Status.OK else np.nan,
                "epochs_completed": reached,
                "diverged_epoch": np.nan,
                "wall_time_s": 0.1 * reached,
                "n_params": 25450,
                "error": "",
            }
        )
    table = pd.DataFrame(runs).sort_values("best_val_acc", ascending=False, kind="stable")
    table.to_csv(sweep_dir / "runs.csv", index=False)
    pd.DataFrame(rows).to_csv(sweep_dir / "epochs.csv", index=False)
    return load(sweep_dir)


def write_repeated_sweep(
    sweep_dir: Path, specs: list[dict], epochs: int | None = None, val_size: int | None = None
) -> pd.DataFrame:
    """A sweep given run by run: each spec has ``lr``, ``seed``, ``val`` (validation accuracy per
    epoch) and optionally ``status`` and more overrides (``"net.hidden": "[16]"``,
    ``"optimizer.l2": 0.001``, a config group's choice ``"optimizer": "adam"``); ``val_size``: the validation
    digits each run records (runs.csv's ``val_size``, absent if None). Writes runs.csv (best first), epochs.csv,
    and configs.csv through
    ``nnsweep.sweeps.collect.configurations``, the function collect writes it with. Returns the runs."""
    from nnsweep.sweeps.collect import configurations

    sweep_dir.mkdir(parents=True, exist_ok=True)
    budget = epochs or max(len(s["val"]) for s in specs)
    runs, rows = [], []
    for spec in specs:
        extra = {k: v for k, v in spec.items() if "." in k or k in GROUP_KEYS}
        overrides = {"optimizer.lr": spec["lr"], **extra, "trainer.seed": spec["seed"]}
        run = ",".join(f"{k}={v}" for k, v in overrides.items())
        settings = {
            "net_name": extra.get("net", "mlp"),
            "hidden": str(extra.get("net.hidden", "[32]")).strip("[]"),
            "optimizer_name": extra.get("optimizer", "sgd"),
            "lr": spec["lr"],
            "l2": extra.get("optimizer.l2", 0.0),
            "batch_size": 10,
            "epochs": budget,
            "seed": spec["seed"],
            "data_name": "mnist5k",
        }
        val = np.asarray(spec["val"], dtype=float)
        status = spec.get("status", "ok")
        for e, acc in enumerate(val):
            rows.append(
                {
                    "run": run,
                    **overrides,
                    **{k: v for k, v in settings.items() if k != "lr"},
                    "base_lr": spec["lr"],
                    "epoch": e + 1,
                    "lr": spec["lr"],
                    "train_loss": 1 / (e + 1),
                    "train_acc": min(acc + 0.03, 1.0),
                    "val_loss": 1.1 / (e + 1),
                    "val_acc": acc,
                    "seconds": 0.1,
                }
            )
        runs.append(
            {
                "run": run,
                **overrides,
                **settings,
                "status": status,
                "best_val_acc": val.max(),
                "best_epoch": int(np.argmax(val)) + 1,
                "final_val_acc": val[-1],
                "best_val_loss": 0.1,
                "test_acc": val.max() - 0.01,
                "epochs_completed": len(val),
                "diverged_epoch": len(val) + 1 if status == "diverged" else np.nan,
                "wall_time_s": 0.1,
                "n_params": 100,
                **({"val_size": val_size} if val_size else {}),
                "error": "",
            }
        )
    table = pd.DataFrame(runs).sort_values("best_val_acc", ascending=False, kind="stable")
    table.to_csv(sweep_dir / "runs.csv", index=False)
    pd.DataFrame(rows).to_csv(sweep_dir / "epochs.csv", index=False)
    configurations(table).to_csv(sweep_dir / "configs.csv", index=False)
    return table


def grid_val_acc(optimizer: str, net: str, lr: float, seed: int, epochs: int = 3) -> list[float]:
    """Validation accuracy per epoch of one synthetic grid run: adam learns best at small rates
    (and best of all), sgd at large ones, lenet5 a little better than mlp, and each seed moves
    it by a few tenths of a point."""
    centre = 0.01 if optimizer == "adam" else 1.0
    quality = (
        1
        - abs(np.log10(lr) - np.log10(centre)) / 4
        + (0.03 if net == "lenet5" else 0.0)
        + (0.01 if optimizer == "adam" else 0.0)
        + 0.004 * seed
    )
    t = np.arange(1, epochs + 1)
    return [round(float(v), 4) for v in 0.1 + 0.8 * min(quality, 1.1) * (1 - np.exp(-t / 1.5))]


def write_grid_sweep(
    sweep_dir: Path, optimizers=("sgd", "adam"), nets=("mlp", "lenet5"), lrs=(0.01, 0.1, 1.0), seeds=(0,)
) -> pd.DataFrame:
    """A grid over optimizer x net x lr (x seed) as ``write_repeated_sweep`` writes it."""
    return write_repeated_sweep(
        sweep_dir,
        [
            {"lr": lr, "seed": s, "optimizer": o, "net": n, "val": grid_val_acc(o, n, lr, s)}
            for o in optimizers
            for n in nets
            for lr in lrs
            for s in seeds
        ],
    )
