"""The rung figure of a pruned search: each trial's line is its recorded rung values, and the
pruner's decisions are drawn where the trial log says they were taken."""

import imageio.v3 as iio
import numpy as np
import pytest

from nnsweep.reports.pruning import draw_rungs, render_rungs, rung_counts
from nnsweep.reports.style import plt
from nnsweep.runrecord import Status
from nnsweep.sweeps.trials import load
from tests.reports.synthetic import write_pruned_sweep, write_trial_log


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def by_gid(ax, kind) -> dict:
    return {a.get_gid(): a for a in getattr(ax, kind) if a.get_gid()}


def points(ax, gid) -> set:
    collection = by_gid(ax, "collections").get(gid)
    return set() if collection is None else {tuple(p) for p in np.asarray(collection.get_offsets()).tolist()}


def test_each_trials_line_goes_through_its_rung_values(tmp_path, ax):
    log = write_pruned_sweep(tmp_path)
    draw_rungs(ax, log)
    lines = by_gid(ax, "lines")
    assert sorted(lines) == sorted(f"trial {t.number}" for t in log.trials)
    for trial in log.trials:
        line = lines[f"trial {trial.number}"]
        epochs = [r.epochs for r in trial.rungs] + ([9] if trial.status == "ok" else [])
        values = [r.value for r in trial.rungs] + ([trial.objective] if trial.status == "ok" else [])
        assert list(line.get_xdata()) == epochs
        assert list(line.get_ydata()) == pytest.approx(values, abs=1e-12)
    finished = next(t for t in log.trials if t.status == "ok")
    assert [r.epochs for r in finished.rungs] == [1, 3]
    assert lines[f"trial {finished.number}"].get_linewidth() > lines["trial 0"].get_linewidth()


def test_kept_and_pruned_points_are_where_the_pruner_decided(tmp_path, ax):
    log = write_pruned_sweep(tmp_path)
    draw_rungs(ax, log)
    kept = {(r.epochs, r.value) for t in log.trials for r in t.rungs if r.kept}
    pruned = {(r.epochs, r.value) for t in log.trials for r in t.rungs if not r.kept}
    assert len(kept) == 3 + 1 and len(pruned) == 6 + 2  # 9 trials, eta 3: 3 of 9 continue, then 1 of 3
    assert points(ax, "kept") == kept and points(ax, "pruned") == pruned
    finished = [t for t in log.trials if t.status == "ok"]
    assert points(ax, "last epoch") == {(9, finished[0].objective)} and points(ax, "ended") == set()


def test_the_title_counts_the_trials_at_each_rung_and_the_best_is_named(tmp_path, ax):
    log = write_pruned_sweep(tmp_path / "a", n_trials=27, max_epochs=27)
    assert rung_counts(log) == [(1, 27), (3, 9), (9, 3), (27, 1)]
    draw_rungs(ax, log)
    assert (
        "27 reached epoch 1 \u2192 9 reached epoch 3 \u2192 3 reached epoch 9 \u2192 1 reached epoch 27"
        in ax.get_title(loc="left")
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "9", "27"]
    best = max((t for t in log.trials if t.epochs == 27), key=lambda t: t.objective)
    named = [t.get_text() for t in ax.get_legend().get_texts() if t.get_text().startswith("best: ")]
    lr = best.params["optimizer.lr"]
    assert named == [f"best: trial {best.number} (optimizer.lr={lr:.3g}), {best.objective:.4g}"]


def test_a_trial_that_ends_on_its_own_between_rungs_ends_where_it_stopped(tmp_path, ax):
    log = write_pruned_sweep(tmp_path)
    kept_at_3 = next(t for t in log.trials if t.status == "ok")
    kept_at_3.status, kept_at_3.epochs, kept_at_3.objective = Status.EARLY_STOPPED, 5, 0.61
    draw_rungs(ax, log)
    line = by_gid(ax, "lines")[f"trial {kept_at_3.number}"]
    assert list(line.get_xdata()) == [1, 3, 5] and line.get_ydata()[-1] == 0.61
    assert points(ax, "ended") == {(5, 0.61)} and points(ax, "last epoch") == set()
    assert "0 reached epoch 9" in ax.get_title(loc="left")
    assert not [t for t in ax.get_legend().get_texts() if t.get_text().startswith("best: ")]  # none at the end


def test_the_figure_file(tmp_path):
    path = render_rungs(write_pruned_sweep(tmp_path), tmp_path / "rungs.png")
    height, width = iio.imread(path).shape[:2]
    assert path == tmp_path / "rungs.png" and (width, height) == (1000, 520)


def test_an_unpruned_search_has_no_rung_figure(tmp_path):
    write_trial_log(tmp_path)
    assert render_rungs(load(tmp_path), tmp_path / "rungs.png") is None
    assert render_rungs(None, tmp_path / "rungs.png") is None
    assert not (tmp_path / "rungs.png").exists()


def test_a_rung_without_a_value_is_no_point(tmp_path, ax):
    log = write_pruned_sweep(tmp_path)
    log.trials[0].rungs[0].value = None  # no validation accuracy: pruned, not counted
    draw_rungs(ax, log)
    assert np.isnan(by_gid(ax, "lines")["trial 0"].get_ydata()).all()
    assert len(points(ax, "pruned")) == 7 and len(points(ax, "kept")) == 4
