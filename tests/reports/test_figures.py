"""Each figure function on small synthetic results tables: files of the expected size and content."""

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from nnsweep.reports.animations import animate_heatmap, animate_learning_curves
from nnsweep.reports.curves import render_accuracy_vs_lr
from nnsweep.reports.grid import lr_epoch_grid
from nnsweep.reports.heatmaps import render_lr_epoch_heatmap
from nnsweep.reports.learning_curves import render_learning_curves
from nnsweep.reports.tables import ReportError, SweepTables, load_tables

LRS = [0.01, 0.1, 1.0, 10.0]
EPOCHS = 6


def synthetic_tables(tmp_path, failed_lr=None, diverged_lr=None) -> SweepTables:
    runs, epochs = [], []
    for lr in LRS:
        run = f"optimizer.lr={lr}"
        status = "failed" if lr == failed_lr else "diverged" if lr == diverged_lr else "ok"
        n = 0 if status == "failed" else 2 if status == "diverged" else EPOCHS
        val = np.clip(
            0.5 + 0.4 * (1 - np.abs(np.log10(lr) - 0) / 2) * (1 - np.exp(-np.arange(1, n + 1) / 2)), 0.1, 0.99
        )
        if status == "diverged":
            val[-1] = np.nan
        for e in range(n):
            epochs.append(
                {
                    "run": run,
                    "base_lr": lr,
                    "epoch": e + 1,
                    "lr": lr,
                    "train_loss": 1 / (e + 1),
                    "train_acc": min(0.999, (val[e] if np.isfinite(val[e]) else 0.1) + 0.03),
                    "val_loss": 1.1 / (e + 1),
                    "val_acc": val[e],
                    "seconds": 0.1,
                }
            )
        finite = val[np.isfinite(val)]
        runs.append(
            {
                "run": run,
                "optimizer.lr": lr,
                "lr": lr,
                "net_name": "rashid",
                "optimizer_name": "sgd",
                "batch_size": 10,
                "epochs": EPOCHS,
                "data_name": "mnist5k",
                "status": status,
                "best_val_acc": finite.max() if finite.size else np.nan,
                "best_epoch": int(np.nanargmax(val)) + 1 if finite.size else np.nan,
                "diverged_epoch": 2 if status == "diverged" else np.nan,
                "test_acc": 0.9,
            }
        )
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
    with pytest.raises(ReportError, match="nnsweep collect"):
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
    from nnsweep.reports.heatmaps import PRUNED_LABEL, draw_lr_epoch_heatmap
    from nnsweep.reports.style import plt
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
        val = tables.epochs["val_acc"] * 100  # every run learned: every cell sets the scale
        assert (image.norm.vmin, image.norm.vmax) == pytest.approx((np.percentile(val, 10), val.max()))
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [PRUNED_LABEL]
    finally:
        plt.close(fig)


def test_an_unpruned_heatmap_has_no_pruned_marks(tmp_path):
    from nnsweep.reports.heatmaps import draw_lr_epoch_heatmap
    from nnsweep.reports.style import plt

    grid = lr_epoch_grid(synthetic_tables(tmp_path, diverged_lr=10.0), "val_acc")
    fig, ax = plt.subplots()
    try:
        draw_lr_epoch_heatmap(ax, grid, "val_acc")
        assert ax.get_legend() is None and not [
            a for a in ax.lines + ax.patches if (a.get_gid() or "").startswith("pruned")
        ]
        assert [p.get_gid() for p in ax.patches] == ["dead 3", "best cell"]  # lr 10 diverged
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
    grey = (np.abs(frames - 0xD0) <= 4).all(axis=-1).sum(axis=(1, 2))  # style.MISSING_COLOUR
    assert (np.diff(grey) < 0).all() and grey[-1] < grey[0] / 10  # left: hatching and letters, antialiased


# --- repeats, dead rows, pruned panels, whole epochs ---------------------------------------------


@pytest.fixture
def drawn(monkeypatch):
    """The figures the render functions draw, kept open to read their artists."""
    import nnsweep.reports.curves
    import nnsweep.reports.heatmaps
    import nnsweep.reports.learning_curves
    from nnsweep.reports.style import plt

    figures = []
    for module in (nnsweep.reports.curves, nnsweep.reports.heatmaps, nnsweep.reports.learning_curves):
        monkeypatch.setattr(module, "save", lambda fig, path: figures.append(fig) or path)
    yield figures
    for fig in figures:
        plt.close(fig)


def by_gid(ax) -> dict:
    return {a.get_gid(): a for a in ax.lines + ax.patches + ax.texts + ax.collections if a.get_gid()}


def dead_rows_sweep(tmp_path):
    """Two rates that learned, one that never did (10% throughout) and one whose only seed diverged."""
    from tests.reports.synthetic import write_repeated_sweep

    write_repeated_sweep(
        tmp_path,
        [
            {"lr": 0.1, "seed": 0, "val": [0.5, 0.8, 0.9]},
            {"lr": 1.0, "seed": 0, "val": [0.6, 0.85, 0.94]},
            {"lr": 3.0, "seed": 0, "val": [0.3], "status": "diverged"},
            {"lr": 10.0, "seed": 0, "val": [0.1, 0.1, 0.1]},
        ],
    )
    return load_tables(tmp_path)


def test_the_colour_scale_spans_the_rows_that_learned(tmp_path, drawn):
    """The dead rows (lr 3 diverged, lr 10 at chance) are grey and labelled, and the scale runs
    from the 10th percentile of the other cells to their maximum, not from 10%."""
    grid = lr_epoch_grid(dead_rows_sweep(tmp_path), "val_acc")
    assert grid.dead == ["", "", "diverged", "never learned"]
    render_lr_epoch_heatmap(grid, "val_acc", tmp_path / "h.png")
    ax = drawn[0].axes[0]
    image = ax.images[0]
    assert (image.norm.vmin, image.norm.vmax) == pytest.approx((np.percentile([50, 80, 90, 60, 85, 94], 10), 94))
    assert np.ma.getmaskarray(image.get_array())[2:].all()  # the dead rows are not on the scale
    artists = by_gid(ax)
    assert artists["dead label 2"].get_text() == "diverged at epoch 2"
    assert artists["dead label 3"].get_text() == "never learned: best 10%"
    assert {"dead 2", "dead 3"} <= set(artists) and drawn[0].axes[1].get_label() == "<colorbar>"
    assert drawn[0].axes[0].images[0].colorbar.extend == "min"
    assert (artists["best cell"].get_x(), artists["best cell"].get_y()) == (1.5, 0.5)  # lr 1.0, epoch 3


def test_the_best_cell_and_the_star_are_the_best_mean(tmp_path, drawn):
    """lr 1.0 holds the single best run, lr 0.1 the best mean: box and star are on lr 0.1."""
    from tests.reports.synthetic import write_repeated_sweep
    from tests.reports.test_tables import hand_specs

    write_repeated_sweep(tmp_path, hand_specs())
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    render_lr_epoch_heatmap(grid, "val_acc", tmp_path / "h.png")
    box = by_gid(drawn[0].axes[0])["best cell"]
    assert (box.get_x(), box.get_y()) == (0.5, -0.5)  # row 0 (lr 0.1), column 1 (epoch 2)
    assert "mean of 3 seeds" in drawn[0].get_suptitle()
    render_accuracy_vs_lr(grid, tmp_path / "a.png")
    artists = by_gid(drawn[1].axes[0])
    assert list(artists["best star"].get_xdata()) == [0.1] and artists["best star"].get_ydata()[0] == pytest.approx(93)
    assert sorted(artists["seeds"].get_ydata()) == pytest.approx([80, 81, 90, 92, 97, 99])
    band = artists["best band"].get_paths()[0].vertices[:, 1]
    half = 4.303 / np.sqrt(3) * 100
    lows = [93 - half * np.sqrt(0.0026 / 2), 260 / 3 - half * np.sqrt(0.2058 / 18)]
    assert band.min() == pytest.approx(min(lows), rel=1e-3)  # lr 1's lower end, 60.1


def test_pruned_rates_stay_off_the_last_epoch_line(tmp_path, drawn):
    from tests.reports.synthetic import write_pruned_sweep

    write_pruned_sweep(tmp_path / "s")
    tables = load_tables(tmp_path / "s")
    render_accuracy_vs_lr(lr_epoch_grid(tables, "val_acc"), tmp_path / "a.png")
    artists = by_gid(drawn[0].axes[0])
    finished = sorted(tables.runs.loc[tables.runs["status"] == "ok", "lr"])
    assert sorted(artists["last"].get_xdata()) == finished and len(artists["pruned last"].get_xdata()) == 8
    assert artists["pruned last"].get_markerfacecolor() == "none"
    assert "pruned: at the epoch it stopped (1 or 3)" in artists["pruned last"].get_label()


def test_learning_curves_are_in_rate_order_with_the_pruned_stop_marked(tmp_path, drawn):
    from tests.reports.synthetic import write_pruned_sweep

    write_pruned_sweep(tmp_path / "s")
    tables = load_tables(tmp_path / "s")
    render_learning_curves(tables.runs, tables.epochs, "acc", tmp_path / "c.png", shared_y=True)
    axes = [ax for ax in drawn[0].axes if ax.get_visible()]
    rates = [float(ax.get_title().split(",")[0].removeprefix("lr ")) for ax in axes]
    assert rates == sorted(tables.runs["lr"]) and len(axes) == 9
    reached = tables.runs.set_index("lr")["epochs_completed"]
    for ax, lr in zip(axes, rates):
        stop = by_gid(ax).get("pruned stop")
        if reached[lr] < 9:
            assert ax.get_title().endswith(f"pruned at epoch {reached[lr]}") and list(stop.get_xdata()) == [reached[lr]]
        else:
            assert stop is None and "pruned" not in ax.get_title()
    assert len({ax.get_ylim() for ax in axes}) == 1  # one shared scale


def test_curves_of_repeats_are_means_with_bands(tmp_path, drawn):
    from tests.reports.synthetic import write_repeated_sweep
    from tests.reports.test_tables import hand_specs

    write_repeated_sweep(tmp_path, hand_specs())
    tables = load_tables(tmp_path)
    render_learning_curves(tables.runs, tables.epochs, "acc", tmp_path / "c.png", configs=tables.configs)
    axes = [ax for ax in drawn[0].axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["lr 0.1", "lr 1"]
    validation = [line for line in axes[0].lines if line.get_label() == "validation"][0]
    assert list(validation.get_ydata()) == pytest.approx([52, 93])
    assert {"train band", "val band"} <= set(by_gid(axes[0]))


def test_epoch_ticks_are_whole(tmp_path, drawn, monkeypatch):
    """Three epochs: matplotlib's own ticks would be 1.0, 1.5, 2.0, 2.5 ... (half epochs)."""
    import nnsweep.reports.animations
    from tests.reports.synthetic import write_sweep

    write_sweep(tmp_path / "s", epochs=3, model=False)
    tables = load_tables(tmp_path / "s")
    seen = []
    reveal = nnsweep.reports.animations.reveal_frames
    monkeypatch.setattr(
        nnsweep.reports.animations, "reveal_frames", lambda fig, axes, *a: seen.extend(axes) or reveal(fig, axes, *a)
    )
    animate_learning_curves(tables.runs, tables.epochs, tmp_path / "c")
    render_learning_curves(tables.runs, tables.epochs, "loss", tmp_path / "l.png")
    for ax in seen + [ax for ax in drawn[0].axes if ax.get_visible()]:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


# --- a grid over categorical settings beside the rate: every group drawn ----------------------


def group_of(run: pd.Series) -> str:
    return f"optimizer {run['optimizer']}, net {run['net']}"


def test_a_grid_over_optimizer_net_and_lr_draws_a_line_per_group(tmp_path, drawn):
    """2 optimizers x 2 nets x 3 rates: four lines on accuracy vs lr, whose points are the
    twelve runs' best validation accuracies; the heatmap has a row per run, in blocks by group."""
    from tests.reports.synthetic import write_grid_sweep

    runs = write_grid_sweep(tmp_path)
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    assert sorted(r for row in grid.rows["runs"] for r in row) == sorted(runs["run"])
    assert grid.groups == [
        "optimizer adam, net lenet5",
        "optimizer adam, net mlp",
        "optimizer sgd, net lenet5",
        "optimizer sgd, net mlp",
    ]
    render_accuracy_vs_lr(grid, tmp_path / "a.png")
    lines = [line for line in drawn[0].axes[0].lines if (line.get_gid() or "").startswith("group ")]
    assert sorted(line.get_label() for line in lines) == grid.groups
    drawn_points = sorted(
        (line.get_label(), x, round(y, 6)) for line in lines for x, y in zip(line.get_xdata(), line.get_ydata())
    )
    expected = sorted((group_of(r), r["lr"], round(r["best_val_acc"] * 100, 6)) for _, r in runs.iterrows())
    assert drawn_points == expected and len(expected) == 12
    star = by_gid(drawn[0].axes[0])["best star"]
    best = runs.iloc[0]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx((best["lr"], best["best_val_acc"] * 100))

    render_lr_epoch_heatmap(grid, "val_acc", tmp_path / "h.png")
    ax = drawn[1].axes[0]
    assert ax.images[0].get_array().shape == (12, 3)
    assert [t.get_text() for t in ax.get_yticklabels()][:3] == [
        f"optimizer adam, net lenet5, lr {lr}" for lr in ("0.01", "0.1", "1")
    ]
    assert sorted(a.get_ydata()[0] for a in ax.lines if a.get_gid() == "group boundary") == [2.5, 5.5, 8.5]


def test_repeats_of_a_grid_are_a_band_per_group(tmp_path, drawn):
    """Two seeds per configuration: each group's line is the mean over seeds, its band the 95%
    interval of configs.csv, and every seed a dot."""
    from tests.reports.synthetic import write_grid_sweep

    runs = write_grid_sweep(tmp_path, seeds=(0, 1))
    tables = load_tables(tmp_path)
    render_accuracy_vs_lr(lr_epoch_grid(tables, "val_acc"), tmp_path / "a.png")
    artists = by_gid(drawn[0].axes[0])
    bands = [a for gid, a in artists.items() if gid.startswith("group band ")]
    assert len(bands) == 4
    configs = tables.configs
    adam_mlp = configs[(configs["optimizer"] == "adam") & (configs["net"] == "mlp")].sort_values("lr")
    line = artists["group optimizer adam, net mlp"]
    assert list(line.get_ydata()) == pytest.approx((adam_mlp["best_val_acc_mean"] * 100).tolist())
    band = artists["group band optimizer adam, net mlp"].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(adam_mlp["best_val_acc_ci_low"].min() * 100)
    assert band.max() == pytest.approx(adam_mlp["best_val_acc_ci_high"].max() * 100)
    assert sorted(artists["seeds"].get_offsets()[:, 1]) == pytest.approx(sorted(runs["best_val_acc"] * 100))


def test_many_groups_are_drawn_as_facets(tmp_path, drawn):
    """Three optimizers x four nets: twelve lines on one axes would be unreadable; one panel
    per optimizer, a line per net in each."""
    from tests.reports.synthetic import write_grid_sweep

    runs = write_grid_sweep(tmp_path, optimizers=("adam", "momentum", "sgd"), nets=("cnn", "lenet5", "mlp", "rashid"))
    render_accuracy_vs_lr(lr_epoch_grid(load_tables(tmp_path), "val_acc"), tmp_path / "a.png")
    panels = [ax for ax in drawn[0].axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["optimizer adam", "optimizer momentum", "optimizer sgd"]
    lines = [[line for line in ax.lines if (line.get_gid() or "").startswith("group ")] for ax in panels]
    assert [len(group) for group in lines] == [4, 4, 4]
    assert sum(len(line.get_xdata()) for group in lines for line in group) == len(runs) == 36


def test_many_groups_of_one_setting_fill_panels_evenly(tmp_path):
    """Ten hidden sizes: two panels of five, in the sizes' order, every group on one."""
    from nnsweep.reports.curves import group_facets
    from tests.reports.synthetic import write_repeated_sweep

    sizes = (10, 20, 30, 50, 100, 150, 200, 300, 500, 1000)
    write_repeated_sweep(
        tmp_path,
        [
            {"lr": lr, "seed": 0, "net.hidden": f"[{h}]", "val": [0.3, 0.5 + h / 5000]}
            for h in sizes
            for lr in (0.1, 1.0)
        ],
    )
    facets = group_facets(lr_epoch_grid(load_tables(tmp_path), "val_acc"))
    assert [members for _, members in facets] == [
        [f"hidden [{h}]" for h in sizes[:5]],
        [f"hidden [{h}]" for h in sizes[5:]],
    ]
    assert facets[0][0] == "hidden [10] to hidden [100]"


def test_a_grids_heatmap_title_fits_its_figure(tmp_path, drawn):
    """Long row labels ("net lenet5, optimizer adam, lr 0.01") move a 2-epoch heatmap's axes to
    the right; its title, centred on them, was cut at "red box: be"."""
    from tests.reports.synthetic import write_repeated_sweep

    write_repeated_sweep(
        tmp_path,
        [
            {"lr": lr, "seed": 0, "optimizer": o, "net.hidden": h, "val": [0.5, 0.6]}
            for o in ("sgd", "adam")
            for h in ("[8]", "[16]")
            for lr in (0.01, 0.1, 1.0)
        ],
    )
    render_lr_epoch_heatmap(lr_epoch_grid(load_tables(tmp_path), "val_acc"), "val_acc", tmp_path / "h.png")
    fig = drawn[0]
    fig.canvas.draw()
    titles = [t for t in [fig._suptitle, *[ax.title for ax in fig.axes]] if t is not None and t.get_text()]
    assert titles and any("red box: best" in t.get_text() for t in titles)
    for title in titles:
        shown = title.get_window_extent()
        assert fig.bbox.x0 <= shown.x0 and shown.x1 <= fig.bbox.x1, (title.get_text(), shown, fig.bbox)
