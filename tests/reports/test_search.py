"""The parallel-coordinates view of a search, from its trial log (read through ``nnsweep.sweeps.trials``)."""

import imageio.v3 as iio
import pytest

import nnsweep.reports.search
from nnsweep.reports.style import plt
from nnsweep.sweeps.trials import load
from tests.reports.synthetic import write_pruned_sweep, write_trial_log


@pytest.fixture
def drawn(monkeypatch):
    """The figure render_parallel_coordinates draws, kept open to read its lines."""
    figures = []
    monkeypatch.setattr(nnsweep.reports.search, "save", lambda fig, path: figures.append(fig) or path)
    yield figures
    for fig in figures:
        plt.close(fig)


def lines_by_trial(fig) -> dict:
    return {line.get_gid(): line for line in fig.axes[0].get_lines() if (line.get_gid() or "").startswith("trial ")}


def test_parallel_coordinates_of_a_trial_log(tmp_path):
    write_trial_log(tmp_path)
    path = nnsweep.reports.search.render_parallel_coordinates(load(tmp_path), tmp_path / "trials.png")
    assert path is not None and iio.imread(path).shape[1] > 400


def test_no_trial_log_is_no_figure(tmp_path):
    assert load(tmp_path) is None
    assert nnsweep.reports.search.render_parallel_coordinates(None, tmp_path / "trials.png") is None
    assert not (tmp_path / "trials.png").exists()


def test_each_line_ends_at_its_trials_objective(tmp_path, drawn):
    write_trial_log(tmp_path, values=(0.01, 0.1, 1.0))  # objectives 0.5, 0.6, 0.7
    nnsweep.reports.search.render_parallel_coordinates(load(tmp_path), tmp_path / "trials.png")
    lines = lines_by_trial(drawn[0])
    assert sorted(lines) == ["trial 0", "trial 1", "trial 2"]
    assert [lines[f"trial {n}"].get_ydata()[-1] for n in range(3)] == pytest.approx([0.0, 0.5, 1.0])
    assert [lines[f"trial {n}"].get_ydata()[0] for n in range(3)] == pytest.approx([0.0, 0.5, 1.0])  # log lr axis
    assert all(line.get_linestyle() == "-" for line in lines.values())
    assert drawn[0].axes[0].get_legend() is None  # nothing pruned, nothing to explain


def test_pruned_trials_are_thin_and_dashed_and_the_legend_says_why(tmp_path, drawn):
    log = write_pruned_sweep(tmp_path)
    nnsweep.reports.search.render_parallel_coordinates(log, tmp_path / "trials.png")
    lines = lines_by_trial(drawn[0])
    status = {f"trial {t.number}": t.status for t in log.trials}
    assert sorted(lines) == sorted(status)
    for gid, line in lines.items():
        pruned = status[gid] == "pruned"
        assert (line.get_linestyle(), line.get_linewidth()) == (("--", 0.9) if pruned else ("-", 1.6)), gid
    assert sum(s == "pruned" for s in status.values()) == 8
    legend = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert legend == ["trained to its end", "pruned: objective at fewer epochs"]
    # the pruned trials are drawn first: the lines of trials trained to the end stay on top
    order = [line.get_gid() for line in drawn[0].axes[0].get_lines() if line.get_gid() in status]
    assert [status[g] for g in order] == ["pruned"] * 8 + ["ok"]


def test_list_valued_categories_sort_by_their_numbers_not_as_text():
    """net.hidden=choice([10],[30],[100],[300]) was drawn [100], [10], [300], [30]."""
    from nnsweep.reports.search import _axis_positions

    y, labels, _ = _axis_positions(["[100]", "[10]", "[300]", "[30]", "[10]"])
    assert labels == ["[10]", "[30]", "[100]", "[300]"]
    assert list(y) == [2 / 3, 0, 1, 1 / 3, 0]
    assert _axis_positions(["adam", "sgd", "[16]"])[1] == ["[16]", "adam", "sgd"]


def test_the_optimisation_history_is_each_trials_objective_and_the_best_so_far(tmp_path, drawn):
    """Trials in the order they were asked: their objectives as dots, failed ones marked on the
    axis, and the best so far (maximised) as a step line through the finished ones."""
    write_trial_log(
        tmp_path,
        values=(0.01, 0.1, 1.0, 0.3, 3.0),
        method="tpe",
        objectives=[0.6, 0.5, None, 0.8, 0.7],
        statuses=["ok", "ok", "failed", "ok", "ok"],
    )
    path = nnsweep.reports.search.render_optimisation_history(load(tmp_path), tmp_path / "h.png")
    assert path is not None
    artists = {a.get_gid(): a for a in drawn[0].axes[0].get_lines() if a.get_gid()}
    assert list(artists["objective"].get_xdata()) == [0, 1, 3, 4]
    assert list(artists["objective"].get_ydata()) == pytest.approx([0.6, 0.5, 0.8, 0.7])
    assert list(artists["best so far"].get_xdata()) == [0, 1, 2, 3, 4]
    assert list(artists["best so far"].get_ydata()) == pytest.approx([0.6, 0.6, 0.6, 0.8, 0.8])
    assert list(artists["failed"].get_xdata()) == [2]


def test_a_grid_has_no_optimisation_history(tmp_path):
    write_trial_log(tmp_path, method="grid")
    assert nnsweep.reports.search.render_optimisation_history(load(tmp_path), tmp_path / "h.png") is None
