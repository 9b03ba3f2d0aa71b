"""Each figure function on small synthetic results tables: files of the expected size and content."""
import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from reports.animations import animate_heatmap, animate_learning_curves
from reports.curves import render_accuracy_vs_lr, render_learning_curves
from reports.heatmaps import render_lr_epoch_heatmap
from reports.tables import ReportError, SweepTables, load_tables, lr_epoch_grid

LRS = [0.01, 0.1, 1.0, 10.0]
EPOCHS = 6


def synthetic_tables(tmp_path, failed_lr=None, diverged_lr=None) -> SweepTables:
    runs, epochs = [], []
    for lr in LRS:
        run = f"optimizer.lr={lr}"
        status = "failed" if lr == failed_lr else "diverged" if lr == diverged_lr else "ok"
        n = 0 if status == "failed" else 2 if status == "diverged" else EPOCHS
        val = np.clip(0.5 + 0.4 * (1 - np.abs(np.log10(lr) - 0) / 2) * (1 - np.exp(-np.arange(1, n + 1) / 2)), 0.1, 0.99)
        if status == "diverged":
            val[-1] = np.nan
        for e in range(n):
            epochs.append({"run": run, "base_lr": lr, "epoch": e + 1, "lr": lr, "train_loss": 1 / (e + 1),
                           "train_acc": min(0.999, (val[e] if np.isfinite(val[e]) else 0.1) + 0.03),
                           "val_loss": 1.1 / (e + 1), "val_acc": val[e], "seconds": 0.1})
        finite = val[np.isfinite(val)]
        runs.append({"run": run, "optimizer.lr": lr, "lr": lr, "net_name": "rashid", "optimizer_name": "sgd",
                     "batch_size": 10, "epochs": EPOCHS, "data_name": "mnist5k", "status": status,
                     "best_val_acc": finite.max() if finite.size else np.nan,
                     "best_epoch": int(np.nanargmax(val)) + 1 if finite.size else np.nan,
                     "diverged_epoch": 2 if status == "diverged" else np.nan, "test_acc": 0.9})
    runs = pd.DataFrame(runs).sort_values("best_val_acc", ascending=False, na_position="last")
    tmp_path.mkdir(parents=True, exist_ok=True)
    runs.to_csv(tmp_path / "runs.csv", index=False)
    pd.DataFrame(epochs).to_csv(tmp_path / "epochs.csv", index=False)
    return load_tables(tmp_path)


def png_size(path):
    image = iio.imread(path)
    return image.shape[1], image.shape[0]


def test_grid_shape_and_best_cell(tmp_path):
    grid = lr_epoch_grid(synthetic_tables(tmp_path), "val_acc")
    assert list(grid.lrs) == LRS and grid.values.shape == (4, EPOCHS)
    i, j = grid.best_cell()
    assert grid.values[i, j] == np.nanmax(grid.values) and grid.lrs[i] in (0.1, 1.0)


@pytest.mark.parametrize("metric", ["val_acc", "train_acc", "gap"])
def test_heatmaps(tmp_path, metric):
    tables = synthetic_tables(tmp_path / "s", failed_lr=10.0, diverged_lr=0.01)
    path = render_lr_epoch_heatmap(lr_epoch_grid(tables, metric), metric, tmp_path / f"{metric}.png")
    w, h = png_size(path)
    assert path.stat().st_size > 20_000 and 500 < w < 1400 and 250 < h < 900


def test_accuracy_vs_lr_and_learning_curves(tmp_path):
    tables = synthetic_tables(tmp_path / "s", diverged_lr=10.0)
    assert png_size(render_accuracy_vs_lr(lr_epoch_grid(tables, "val_acc"), tmp_path / "a.png")) == (700, 450)
    for kind in ("acc", "loss"):
        path = render_learning_curves(tables.runs, tables.epochs, kind, tmp_path / f"c_{kind}.png")
        w, h = png_size(path)
        assert w == 1440 and 250 < h < 400  # four panels in one row


def test_animations_have_one_frame_per_epoch(tmp_path):
    tables = synthetic_tables(tmp_path / "s")
    gif, mp4 = animate_heatmap(lr_epoch_grid(tables, "val_acc"), "val_acc", tmp_path / "h")
    assert iio.improps(gif).shape[0] == EPOCHS
    assert iio.imread(mp4, plugin="FFMPEG", index=None).shape[0] == EPOCHS
    frames = iio.imread(gif, index=None)
    assert frames.shape[1] % 16 == 0 and frames.shape[2] % 16 == 0
    assert not np.array_equal(frames[0], frames[-1])  # the heatmap fills in
    gif, _ = animate_learning_curves(tables.runs, tables.epochs, tmp_path / "c")
    assert iio.improps(gif).shape[0] == EPOCHS


def test_missing_tables_are_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="python -m sweeps.collect"):
        load_tables(tmp_path)
    with pytest.raises(ReportError, match="does not exist"):
        load_tables(tmp_path / "nope")


def test_long_runs_animate_at_most_a_few_hundred_frames(tmp_path):
    """1,000 epochs: one frame per epoch would hold gigabytes of frames; a few hundred, spread
    over the epochs and ending at the last one, tell the same story."""
    from tests.reports.synthetic import write_sweep

    write_sweep(tmp_path / "s", lrs=(0.1, 1.0), epochs=1000, model=False)
    tables = load_tables(tmp_path / "s")
    gif, mp4 = animate_learning_curves(tables.runs, tables.epochs, tmp_path / "c")
    frames = iio.imread(mp4, plugin="FFMPEG", index=None).shape[0]
    assert 100 <= frames <= 300 and iio.improps(gif).shape[0] == frames
    gif_frames = iio.imread(gif, index=None)
    assert not np.array_equal(gif_frames[-2], gif_frames[-1])  # the last frame still adds the last epochs


def test_a_pruned_row_ends_at_the_epoch_its_run_reached(tmp_path):
    """Cells after a pruned run's last epoch are masked (white, no value, not in the colour
    scale), and a bar closes the row at the right edge of its last cell."""
    from reports.heatmaps import PRUNED_LABEL, draw_lr_epoch_heatmap
    from reports.style import plt
    from tests.reports.synthetic import write_pruned_sweep

    write_pruned_sweep(tmp_path / "s")
    tables = load_tables(tmp_path / "s")
    grid = lr_epoch_grid(tables, "val_acc")
    reached = tables.runs.set_index("lr").loc[grid.lrs, "epochs_completed"].to_numpy(dtype=int)
    assert sorted(reached) == [1] * 6 + [3] * 2 + [9] and grid.values.shape == (9, 9)
    fig, ax = plt.subplots()
    try:
        image = draw_lr_epoch_heatmap(ax, grid, "val_acc")
        mask = np.ma.getmaskarray(image.get_array())
        artists = {a.get_gid(): a for a in ax.lines + ax.patches if a.get_gid()}
        for i, (status, end) in enumerate(zip(grid.status, reached)):
            assert mask[i, end:].all() and not mask[i, :end].any()
            if status == "pruned":
                assert list(artists[f"pruned {i}"].get_xdata()) == [end - 0.5, end - 0.5]
                tail = artists[f"pruned tail {i}"]
                assert (tail.get_x(), tail.get_width(), tail.get_facecolor()) == (end - 0.5, 9 - end, (1, 1, 1, 1))
                assert tail.get_hatch() == "//"  # not white alone: white is a gap of 0 on the overfitting map
            else:
                assert f"pruned {i}" not in artists and end == 9
        val = tables.epochs["val_acc"] * 100
        assert (image.norm.vmin, image.norm.vmax) == pytest.approx((val.min(), val.max()))
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [PRUNED_LABEL]
    finally:
        plt.close(fig)


def test_an_unpruned_heatmap_has_no_pruned_marks(tmp_path):
    from reports.heatmaps import draw_lr_epoch_heatmap
    from reports.style import plt

    grid = lr_epoch_grid(synthetic_tables(tmp_path, diverged_lr=10.0), "val_acc")
    fig, ax = plt.subplots()
    try:
        draw_lr_epoch_heatmap(ax, grid, "val_acc")
        assert ax.get_legend() is None and not [a for a in ax.lines + ax.patches if a.get_gid()]
        assert [p.get_edgecolor()[:3] for p in ax.patches] == [(1.0, 0.0, 0.0)]  # the best cell's box only
    finally:
        plt.close(fig)


def test_a_pruned_heatmap_animates_with_its_layout_fixed(tmp_path):
    """The legend is in every frame (so the axes do not move between the empty and the full
    render), and the grey of cells not yet shown gives way to white where runs were pruned."""
    from tests.reports.synthetic import write_pruned_sweep

    write_pruned_sweep(tmp_path / "s")
    gif, _ = animate_heatmap(lr_epoch_grid(load_tables(tmp_path / "s"), "val_acc"), "val_acc", tmp_path / "h")
    frames = iio.imread(gif, index=None).astype(int)
    assert frames.shape[0] == 9
    legend = frames[:, -30:, :300]
    assert (legend.max(axis=-1) < 60).any(axis=(1, 2)).all() and (legend == legend[0]).all()
    grey = (np.abs(frames - 0xd0) <= 4).all(axis=-1).sum(axis=(1, 2))  # style.MISSING_COLOUR
    assert (np.diff(grey) < 0).all() and grey[-1] < grey[0] / 10  # left: hatching and letters, antialiased
