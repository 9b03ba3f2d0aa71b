"""The learning-rate sweep, a Hydra grid and collect, through the real entrypoints."""

import multiprocessing

import pandas as pd
import pytest

from nnsweep.runrecord import LockedError
from nnsweep.sweeps.collect import collect
from nnsweep.sweeps.lock import sweep_lock
from nnsweep.sweeps.lr import log_spaced, parse_lrs
from tests.experiments.conftest import run_module

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

TINY = ["data.train_limit=300", "net=mlp", "net.hidden=[16]"]


def test_log_spaced_rates_print_cleanly():
    lrs = log_spaced(0.01, 3, 6)
    assert lrs[0] == 0.01 and lrs[-1] == 3.0 and len(lrs) == 6
    assert all(len(str(v).replace("0.", "").lstrip("0")) <= 4 for v in lrs)  # 3 significant digits
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert max(ratios) / min(ratios) < 1.02
    assert "0.30000000000000004" not in str(log_spaced(0.1, 0.5, 5))
    assert parse_lrs("1,0.1,0.1") == [0.1, 1.0]
    with pytest.raises(ValueError):
        parse_lrs("0.1,-1")


def test_tiny_lr_sweep_writes_complete_tables_and_reruns_nothing(tmp_path):
    args = [
        "--lrs",
        "0.05,0.5",
        "--epochs",
        "3",
        "--batch",
        "10",
        "--no-report",
        "--sweep-dir",
        str(tmp_path / "lr"),
        "--net",
        "mlp",
        *[t for t in TINY if t != "net=mlp"],
    ]
    first = run_module("nnsweep.sweep_lr", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    runs = pd.read_csv(tmp_path / "lr" / "runs.csv")
    epochs = pd.read_csv(tmp_path / "lr" / "epochs.csv")
    assert sorted(runs["lr"]) == [0.05, 0.5] and set(runs["status"]) == {"ok"}
    assert {"best_val_acc", "best_epoch", "test_acc", "epochs_completed"} <= set(runs.columns)
    assert len(epochs) == 6 and set(epochs["base_lr"]) == {0.05, 0.5} and set(epochs["epoch"]) == {1, 2, 3}
    assert runs["best_val_acc"].iloc[0] == runs["best_val_acc"].max()  # best first
    ends = [line for line in first.stdout.splitlines() + first.stderr.splitlines() if "report" in line]
    assert len(ends) == 1 and first.stdout.splitlines()[-1] == ends[0], ends  # said once, last
    assert "no report page (live report off): nnsweep report " in ends[0]
    assert "2 runs: 2 ok." in first.stdout and "Best: " in first.stdout  # the sweep's closing lines
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "lr").glob("*/summary.json")}
    again = run_module("nnsweep.sweep_lr", *args)
    assert again.returncode == 0 and "already has its 2 trials: nothing to run" in again.stdout
    assert stamp == {p: p.stat().st_mtime_ns for p in (tmp_path / "lr").glob("*/summary.json")}


def test_a_pruned_lr_sweep_trains_the_best_third_further_and_reruns_nothing(tmp_path):
    """--prune with 6 rates, 3 epochs, eta 3: one rung, at epoch 1, all rates in one round; the
    best 6 // 3 = 2 by validation accuracy there train on to epoch 3, the 4 others stop as pruned."""
    args = [
        "--lrs",
        "0.003,0.03,0.1,0.3,1,30",
        "--epochs",
        "3",
        "--batch",
        "10",
        "--no-report",
        "--prune",
        "--net",
        "mlp",
        *[t for t in TINY if t != "net=mlp"],
    ]
    first = run_module("nnsweep.sweep_lr", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    sweep = next((tmp_path / "results" / "sweep-lr").iterdir())
    assert sweep.name.startswith("mlp-mnist5k-e3-b10-asha1x3")  # a pruned sweep never reuses unpruned runs
    runs = pd.read_csv(sweep / "runs.csv")
    epochs = pd.read_csv(sweep / "epochs.csv")
    first_epoch = epochs[epochs["epoch"] == 1].set_index("base_lr")["val_acc"]
    top2 = set(first_epoch.sort_values(ascending=False, kind="stable").index[:2])
    assert set(runs.loc[runs["epochs_completed"] > 1, "lr"]) == top2
    pruned, done = runs[runs["status"] == "pruned"], runs[runs["status"] == "ok"]
    assert len(pruned) == 4 and (pruned["rung"] == 0).all() and (pruned["epochs_completed"] == 1).all()
    assert set(done["lr"]) == top2 and (done["rung"] == 1).all() and (done["epochs_completed"] == 3).all()
    again = run_module("nnsweep.sweep_lr", *args, cwd=tmp_path)
    assert again.returncode == 0 and "already has its 6 trials: nothing to run" in again.stdout
    assert "Launching" not in again.stdout
    bad = run_module("nnsweep.sweep_lr", *args[:-4], "--eta", "1", cwd=tmp_path)
    assert bad.returncode == 2 and "--eta >= 2" in bad.stderr


def test_a_pruned_lr_sweep_of_a_loss_keeps_the_lowest(tmp_path):
    """objective=best_val_loss is minimised: the pruner must keep the rates with the lowest loss."""
    args = [
        "--lrs",
        "0.003,0.03,0.3",
        "--epochs",
        "3",
        "--batch",
        "10",
        "--no-report",
        "--prune",
        "--sweep-dir",
        str(tmp_path / "s"),
        "--net",
        "mlp",
        *[t for t in TINY if t != "net=mlp"],
        "objective=best_val_loss",
    ]
    result = run_module("nnsweep.sweep_lr", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = pd.read_csv(tmp_path / "s" / "runs.csv")
    epochs = pd.read_csv(tmp_path / "s" / "epochs.csv")
    lowest = epochs[epochs["epoch"] == 1].set_index("base_lr")["val_loss"].idxmin()
    assert runs.loc[runs["status"] == "ok", "lr"].tolist() == [lowest]  # 3 // 3 = 1 continues


def test_repeats_give_each_rate_its_mean_and_t_interval(tmp_path):
    """--repeats 3: every rate with seeds 0, 1, 2; configs.csv takes the three runs of a rate
    together. Mean, sample standard deviation and the 95% interval of the mean are checked
    against the textbook formulas (t with 2 degrees of freedom: 4.3027)."""
    import math

    args = [
        "--lrs",
        "0.05,0.5",
        "--epochs",
        "2",
        "--batch",
        "10",
        "--no-report",
        "--repeats",
        "3",
        "--sweep-dir",
        str(tmp_path / "r"),
        "--net",
        "mlp",
        *[t for t in TINY if t != "net=mlp"],
    ]
    first = run_module("nnsweep.sweep_lr", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    runs = pd.read_csv(tmp_path / "r" / "runs.csv")
    configs = pd.read_csv(tmp_path / "r" / "configs.csv").set_index("lr")
    assert sorted(runs["seed"]) == [0, 0, 1, 1, 2, 2] and len(configs) == 2
    for lr, group in runs.groupby("lr"):
        values = group["best_val_acc"].tolist()
        mean = sum(values) / 3
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
        half = 4.302652729911275 * std / math.sqrt(3)
        row = configs.loc[lr]
        assert row["repeats"] == 3 and row["seeds"] == "0 1 2"
        assert math.isclose(row["best_val_acc_mean"], mean) and math.isclose(row["best_val_acc_std"], std)
        assert math.isclose(row["best_val_acc_ci_low"], mean - half) and math.isclose(
            row["best_val_acc_ci_high"], mean + half
        )
    assert configs["best_val_acc_mean"].is_monotonic_decreasing  # best mean first
    best = configs.iloc[0]
    assert (
        f"Best: optimizer.lr={configs.index[0]} with mean validation accuracy {best['best_val_acc_mean']:.2%} over "
        f"3 seeds"
    ) in first.stdout and ("95% interval" in first.stdout or "no spread" in first.stdout)
    again = run_module("nnsweep.sweep_lr", *args)
    assert again.returncode == 0 and "2 rates [0.05, 0.5] x 3 seeds" in again.stdout
    assert "already has its 2 trials: nothing to run" in again.stdout
    clash = run_module("nnsweep.sweep_lr", *args, "trainer.seed=4")
    assert clash.returncode == 2 and "--repeats" in clash.stderr


def hand_runs(*rows):
    """runs.csv as collect writes it, for (lr, seed, status, best_val_acc) rows."""
    return pd.DataFrame(
        [
            {
                "run": f"optimizer.lr={lr},trainer.seed={seed}",
                "optimizer.lr": lr,
                "trainer.seed": seed,
                "lr": lr,
                "seed": seed,
                "status": status,
                "at_chance": at_chance,
                "best_val_acc": acc,
                "best_epoch": 3,
                "test_acc": acc,
            }
            for lr, seed, status, acc, at_chance in rows
        ]
    )


def test_the_closing_lines_name_the_best_configuration_by_its_mean_and_count_runs_at_chance():
    """lr 1 holds the luckiest seed (0.95), lr 0.1 the best mean (0.89); lr 10 ended "ok" at
    chance: the closing line counts it apart, and the Best line names lr 0.1 by its mean."""
    from nnsweep.sweeps.closing import summary_lines
    from nnsweep.sweeps.collect import configurations

    runs = hand_runs(
        (1.0, 0, "ok", 0.95, False),
        (1.0, 1, "ok", 0.55, False),
        (0.1, 0, "ok", 0.90, False),
        (0.1, 1, "ok", 0.88, False),
        (10.0, 0, "ok", 0.10, True),
        (10.0, 1, "diverged", None, None),
    )
    runs = runs.sort_values("best_val_acc", ascending=False, na_position="last")
    lines = summary_lines(runs, configurations(runs)).splitlines()
    assert lines[0] == "6 runs: 4 ok, 1 diverged, 1 did not learn (at chance)."
    assert lines[1].startswith("Best: optimizer.lr=0.1 with mean validation accuracy 89.00% over 2 seeds")
    assert lines[1].endswith("mean test accuracy 89.00%.")
    one_seed = runs[runs["trainer.seed"] == 0]  # no repeats: the best run, as before
    assert (
        summary_lines(one_seed, configurations(one_seed))
        .splitlines()[1]
        .startswith("Best: optimizer.lr=1.0,trainer.seed=0 with validation accuracy 95.00% at epoch 3")
    )


def test_grid_with_a_failing_point_collects_every_run(tmp_path):
    # A CSV's training size is known only once it is read (a named set's is checked before the
    # grid starts): batch 400 fails in its jobs, on 300 training rows.
    (tmp_path / "d.csv").write_text("".join(f"{i % 10}," + ",".join([str(i % 7)] * 784) + "\n" for i in range(340)))
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer=sgd,adam",
        "trainer.batch_size=10,400",
        *TINY,
        "data=csv",
        f"data.train_csv={tmp_path / 'd.csv'}",
        "data.val_size=20",
        "data.test_size=20",
        "trainer.epochs=2",
        "trainer.progress=false",
        f"hydra.sweep.dir={tmp_path / 'grid'}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs, epochs = collect(tmp_path / "grid")
    assert len(runs) == 4  # a bad value that only training can find (not one the config check refuses)
    assert sorted(runs["status"]) == ["failed", "failed", "ok", "ok"]
    failed = runs[runs["status"] == "failed"]
    assert set(failed["trainer.batch_size"]) == {400} and failed["error"].str.contains("larger than the training").all()
    assert len(epochs) == 4  # two finished runs x two epochs
    assert (tmp_path / "grid" / "runs.csv").exists() and (tmp_path / "grid" / "epochs.csv").exists()


def test_interrupted_runs_show_as_such(tmp_path):
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer.lr=0.1,0.2",
        *TINY,
        "trainer.epochs=1",
        "trainer.progress=false",
        f"hydra.sweep.dir={tmp_path / 'g'}",
    )
    assert result.returncode == 0
    victim = next((tmp_path / "g").glob("*lr=0.2*"))
    summary = victim / "summary.json"
    summary.write_text(summary.read_text().replace('"status": "ok"', '"status": "running"'))
    runs, _ = collect(tmp_path / "g")
    assert sorted(runs["status"]) == ["interrupted", "ok"]


def test_collect_of_a_missing_directory_is_one_line(tmp_path):
    result = run_module("nnsweep.sweeps.keeper", str(tmp_path / "nope"))
    assert result.returncode == 2 and result.stderr.startswith("nnsweep: error:") and result.stderr.count("\n") == 1


def _hold_lock(path, ready, release):
    with sweep_lock(path):
        ready.set()
        release.wait(30)


def test_lr_sweep_refuses_a_directory_in_use(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path / "lr", ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        result = run_module("nnsweep.sweep_lr", "--lrs", "0.1", "--sweep-dir", str(tmp_path / "lr"))
        assert result.returncode == 2 and "is in use by process" in result.stderr
    finally:
        release.set()
        holder.join(10)


def test_a_second_sweep_into_the_same_directory_is_refused(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockedError, match=f"in use by process {holder.pid}"):
            with sweep_lock(tmp_path):
                pass
    finally:
        release.set()
        holder.join(10)
    with sweep_lock(tmp_path):  # free again once the holder is gone
        pass


def test_default_lr_sweep_directory_names_every_setting():
    from nnsweep.sweeps.lr import default_sweep_dir

    plain = default_sweep_dir("rashid", "mnist5k", 15, 1)
    assert str(plain) == "results/sweep-lr/rashid-mnist5k-e15-b1"
    other = default_sweep_dir("rashid", "mnist5k", 15, 1, ["optimizer=momentum"])
    assert other != plain and other.name == "rashid-mnist5k-e15-b1-optimizer-momentum"  # no '=' for Hydra to parse
    assert default_sweep_dir("rashid", "mnist5k", 15, 1, pruning="asha1x3").name == "rashid-mnist5k-e15-b1-asha1x3"
    # Repeats never land among one-seed runs (their configs.csv would mix seed 0 twice), and any
    # number of repeats is the same sweep: --repeats 5 extends --repeats 3.
    assert default_sweep_dir("rashid", "mnist5k", 15, 1, repeats=3).name == "rashid-mnist5k-e15-b1-seeds"
    assert default_sweep_dir("rashid", "mnist5k", 15, 1, repeats=5, race=True).name == "rashid-mnist5k-e15-b1-race5"
    assert default_sweep_dir("rashid", "mnist5k", 15, 1, repeats=5) == default_sweep_dir(
        "rashid", "mnist5k", 15, 1, repeats=3
    )
    long = default_sweep_dir("rashid", "mnist5k", 15, 1, [f"net.hidden=[{'1' * 100}]"])
    assert len(long.name) < 50 and long != plain


def test_15_a_sweep_removes_its_own_stale_temporary_files_once_it_holds_the_lock(tmp_path):
    for name in (".trials.json.k9.tmp", ".runs.csv.k9.tmp"):  # what kill -9 during an atomic write leaves
        (tmp_path / name).write_text("half")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".model.npz.k9.tmp").write_text("half")  # a run's own: removed by the run, under its lock
    with sweep_lock(tmp_path):
        assert sorted(p.name for p in tmp_path.glob(".*.tmp")) == []
    assert (tmp_path / "run" / ".model.npz.k9.tmp").exists()


def lr_args(*argv: str):
    from nnsweep.sweeps import lr

    parsed = lr.make_parser().parse_intermixed_args(["--lrs", "0.1,1", "--epochs", "2", "--no-report", "--", *argv])
    return lr, parsed


def test_lr_sweep_on_another_launcher_leaves_its_parallelism_to_it_and_keeps_its_name():
    lr, args = lr_args("hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2", "optimizer=momentum")
    command = lr.train_arguments(args, [0.1, 1.0], lr.Path("s"))
    assert "hydra/launcher=ray" in command and "+hydra.launcher.ray.init.num_cpus=2" in command
    assert not any(c.startswith("hydra.launcher.n_jobs") for c in command)  # joblib's key: Ray has none
    # launch settings do not define a run: they come after the run settings and the sweep directory
    assert (
        command.index("optimizer=momentum") < command.index("hydra.sweep.dir='s'") < command.index("hydra/launcher=ray")
    )
    assert command[:3] == ["-m", "--config-name", "sweep_lr"] and "optimizer.lr=0.1,1.0" in command
    assert (
        lr.default_sweep_dir("rashid", "mnist5k", 2, 1, lr.run_settings(args.overrides)).name
        == "rashid-mnist5k-e2-b1-optimizer-momentum"
    )
    args.jobs = 2
    with pytest.raises(lr.NnsweepError, match="--jobs sets how many runs joblib trains at once"):
        lr.check_arguments(args)
    _, local = lr_args()
    assert command_n_jobs(lr.train_arguments(local, [0.1, 1.0], lr.Path("s"))) == "hydra.launcher.n_jobs=2"


def command_n_jobs(command: list[str]) -> str:
    return next(c for c in command if c.startswith("hydra.launcher.n_jobs="))


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["hydra/sweeper=skopt"], "takes Hydra settings of its launcher only"),
        (["hydra.job.chdir=true"], "takes Hydra settings of its launcher only"),
        (
            ["hydra/launcher=ray", "hydra.launcher.n_jobs=3"],
            "is a setting of joblib's launcher, not of hydra/launcher=ray",
        ),
        (["hydra.launcher.n_jobs=3"], "use --jobs instead"),
        (["search=mlp_lr_l2"], "a learning-rate sweep is a search of its own"),
    ],
)
def test_lr_sweep_refuses_hydra_settings_other_than_its_launchers(overrides, fragment):
    lr, args = lr_args(*overrides)
    with pytest.raises(lr.NnsweepError, match=fragment):
        lr.check_arguments(args)


def test_the_terminal_gives_no_interval_from_a_zero_spread_and_the_pages_comparison():
    """Two seeds that agree to the digit (500 validation digits: steps of 0.2 points) gave
    "95% interval 94.20% to 94.20%"; now no interval, and the runner-up comparison is the page's
    sentence, with no verdict from 2 seeds."""
    from nnsweep.sweeps.closing import runner_up_sentence, summary_lines
    from nnsweep.sweeps.collect import configurations

    runs = hand_runs(
        (0.5, 0, "ok", 0.942, False),
        (0.5, 1, "ok", 0.942, False),
        (2.0, 0, "ok", 0.928, False),
        (2.0, 1, "ok", 0.928, False),
    )
    runs["val_size"] = 500
    lines = summary_lines(runs, configurations(runs)).splitlines()
    assert "no spread between them, so no interval" in lines[1] and "94.20% to 94.20%" not in lines[1]
    versus = runner_up_sentence(runs)
    assert versus.startswith("lr 0.5 is ahead of lr 2 by 1.4 points of validation accuracy on each of 2 paired seeds")
    assert "no verdict" in versus and "more than seed noise" not in versus
    assert runner_up_sentence(runs[runs["trainer.seed"] == 0]).startswith("One seed per configuration: train repeats")
    assert runner_up_sentence(runs[runs["optimizer.lr"] == 0.5]) is None  # one configuration: nothing to compare


def test_seeds_equal_up_to_float_noise_give_no_interval_and_a_zero_difference_is_no_lead():
    """Three seeds at 0.80 have a mean of 0.8000000000000002 and a standard deviation of about
    1e-16: the old test ``low == high`` named "95% interval 80.00% to 80.00%". The spread test is
    the comparison's (``Interval.spread``); two configurations equal on every seed are "no
    difference", not "ahead by 0.0 points"."""
    from nnsweep.sweeps.closing import runner_up_sentence, summary_lines
    from nnsweep.sweeps.collect import configurations

    runs = hand_runs(*[(lr, seed, "ok", 0.8, False) for lr in (1.0, 3.0) for seed in (0, 1, 2)])
    runs["val_size"] = 1500
    best = summary_lines(runs, configurations(runs)).splitlines()[1]
    assert (
        best.startswith("Best: optimizer.lr=")
        and "80.00% on each of 3 seeds (no spread between them, so no interval" in best
        and "95% interval" not in best
    )
    versus = runner_up_sentence(runs)
    assert (
        versus
        == "lr 1 and lr 3 have the same validation accuracy on each of 3 paired seeds: no difference between them."
    )
    assert "ahead" not in versus


def test_when_every_run_is_at_chance_no_best_is_named_and_nothing_compared():
    """net.init=zeros: every run at 10% (at_chance). The Best line said "optimizer.lr=1.0 ...
    10.00% over 3 seeds (95% interval 10.00% to 10.00%)" and "lr 1 is ahead of lr 3 by 0.0 points"."""
    from nnsweep.sweeps.closing import runner_up_sentence, summary_lines
    from nnsweep.sweeps.collect import configurations

    runs = hand_runs(*[(lr, seed, "ok", 0.1 + 0.0004 * seed, True) for lr in (1.0, 3.0) for seed in (0, 1, 2)])
    lines = summary_lines(runs, configurations(runs)).splitlines()
    assert lines[0] == "6 runs: 6 did not learn (at chance)."
    assert lines[1].startswith("No run learned: every run ended at chance, so no best is named")
    assert runner_up_sentence(runs) is None
    one_seed = runs[runs["trainer.seed"] == 0]
    assert summary_lines(one_seed, configurations(one_seed)).splitlines()[1].startswith("No run learned")
    learned = hand_runs((1.0, 0, "ok", 0.9, False), (3.0, 0, "ok", 0.1, True))  # one learned: its best is named
    assert (
        summary_lines(learned, configurations(learned))
        .splitlines()[1]
        .startswith("Best: optimizer.lr=1.0,trainer.seed=0")
    )


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--repeats", "1000000"], "--repeats 1000000: at most 100 seeds per rate"),
        (["--num", "200", "--repeats", "11"], "200 rates x 11 seeds is 2200 runs; at most 2000"),
    ],
)
def test_repeats_are_capped_with_one_line_before_anything_starts(tmp_path, argv, fragment):
    """--repeats 1000000 ended in a traceback (OSError: Argument list too long), exit 1."""
    result = run_module("nnsweep.sweep_lr", *argv, "--no-report", "--sweep-dir", str(tmp_path / "s"))
    assert result.returncode == 2 and fragment in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_a_batch_larger_than_the_training_set_is_refused_before_any_run_launches(tmp_path):
    """mnist5k trains on 3,500 digits: --batch 100000 launched every run and ended with exit 1
    ("no trial ... produced a result"); a grid value of 3501 and a train_limit below the batch
    are found by the same check, before anything trains."""
    lr = run_module(
        "nnsweep.sweep_lr",
        "--epochs",
        "1",
        "--lrs",
        "0.1",
        "--batch",
        "100000",
        "--net",
        "mlp",
        "--no-report",
        "--sweep-dir",
        str(tmp_path / "lr"),
    )
    assert lr.returncode == 2 and lr.stderr == (
        "nnsweep: error: trainer.batch_size=100000 is larger than the training set (3500 images); lower it\n"
    ), lr.stderr[-2000:]
    assert not (tmp_path / "lr").exists()  # refused before the sweep took its directory
    grid = run_module(
        "nnsweep.experiments.train",
        "-m",
        "net=mlp",
        "trainer.batch_size=10,3501",
        "trainer.epochs=1",
        f"hydra.sweep.dir={tmp_path / 'g'}",
        cwd=tmp_path,
    )
    assert (
        grid.returncode == 2
        and "trainer.batch_size=3501 is larger than the training set (3500 images)" in grid.stderr
        and grid.stderr.count("\n") == 1
        and not (tmp_path / "g").exists()
    )
    limited = run_module(
        "nnsweep.experiments.train",
        "net=mlp",
        "trainer.batch_size=200",
        "data.train_limit=100",
        "data.val_size=1000",
        f"hydra.run.dir={tmp_path / 'one'}",
        cwd=tmp_path,
    )
    assert limited.returncode == 2 and "(100 images)" in limited.stderr and not (tmp_path / "one").exists()


def test_the_lr_search_config_holds_the_rates_sweep_lr_sweeps_by_default():
    """conf/search/lr.yaml (``nnsweep train -m search=lr``) and ``nnsweep sweep-lr`` without --lrs
    sweep the same 11 rates, and sweep-lr's primary config chooses that search."""
    from nnsweep.sweeps.lr import log_spaced, make_parser
    from tests.experiments.conftest import compose_config

    defaults = make_parser().parse_args([])
    rates = log_spaced(defaults.lr_min, defaults.lr_max, defaults.num)
    for name, overrides in (("config", ["search=lr"]), ("sweep_lr", [])):
        cfg = compose_config(overrides, config_name=name, return_hydra_config=True)
        assert [float(v) for v in cfg.hydra.sweeper.params["optimizer.lr"].split(",")] == rates
        assert cfg.hydra.sweeper._target_.endswith("GridSweeper") and cfg.trainer.progress is False
