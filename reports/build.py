"""Build a sweep's report: every figure that applies to it, then ``index.html``.

Reads ``runs.csv`` and ``epochs.csv`` (``nnsweep.sweeps.collect``); the trial log if the sweep was a
search (``nnsweep.sweeps.trials``: read once, a damaged one is a note), with the rungs of a pruned search;
skopt's plots if it made some; and the best run's record (``runrecord``): its saved model to
query it, never to train it, and the evaluation and mistakes training recorded, so no data set
is loaded. A figure that does not apply (one learning rate only, no finished model, no
evaluation) is skipped with a note on the page; a sweep with failed or diverged runs still gets
its report.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path

from nnsweep.core.atomic import WriteError, atomic_write, own_dir
from nnsweep.experiments.cli import warn
from nnsweep.reports.animations import animate_heatmap, animate_learning_curves
from nnsweep.reports.cache import FigureCache, Section
from nnsweep.reports.compare import best_vs_runner_up, chosen_on, race_statement
from nnsweep.reports.curves import render_accuracy_vs_lr
from nnsweep.reports.findings import lr_findings
from nnsweep.reports.fingerprint import code_digest
from nnsweep.reports.grid import lr_epoch_grid
from nnsweep.reports.heatmaps import render_lr_epoch_heatmap
from nnsweep.reports.html import Figure, write_index
from nnsweep.reports.importance import IMPORTANCE_CSV, IMPORTANCE_SENTENCE, importance_figures
from nnsweep.reports.learning_curves import render_learning_curves
from nnsweep.reports.lr_find import read_result as read_range_test
from nnsweep.reports.lr_find import render as render_range_test
from nnsweep.reports.models import MODEL_FIGURES, best_finished_run, model_figures, render_run_portraits
from nnsweep.reports.pruning_audit import audit_figures
from nnsweep.reports.search import engine_name, search_figures
from nnsweep.reports.tables import load_tables
from nnsweep.runrecord import MEAN_INPUT, RunDir, Status
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.closing import summary_lines

log = logging.getLogger("nnsweep.reports")
# Captions of scikit-optimize's own plots, after the engine's name (``search.engine_name``): a
# random search draws them too.
SKOPT_PLOTS = {
    "skopt_convergence.png": "best objective found after each trial (skopt; shown as it was optimised, maximised "
    "or minimised).",
    "skopt_objective.png": "partial dependence of the fitted model on each parameter (skopt).",
    "skopt_evaluations.png": "where the trials were evaluated (skopt).",
}
# How nnsweep.nets.train measures the training accuracy of an epoch, for the captions that show it.
TRAIN_ACC_MEASURED = (
    " Training accuracy is measured during the epoch, each mini-batch scored by its own training "
    "step (dropout on, images augmented when augmentation is on, the weights as they were before "
    "that batch's update), and not measured again on the whole training set after the epoch; "
    "validation accuracy is measured after the epoch, without dropout."
)


def sweep_engine(sweep_dir: Path) -> str:
    """The name of the engine that ran the sweep, from its trial log ("Search" without one)."""
    try:
        return engine_name(trial_log.load(sweep_dir))
    except trial_log.TrialLogError:
        return "Search"


# Long on purpose: the page's sections in the order they appear, each choosing its figures from the tables.
def build_report(
    sweep_dir: str | Path, live: bool = False, shared_y: bool = False, note: str = "", redraw: bool = False
) -> Path:
    """Write ``<sweep dir>/report/`` and return the path of its ``index.html``. Figures whose
    inputs did not change since the last build are kept (``nnsweep.reports.cache``). ``live``: the page
    of a running sweep (``nnsweep.reports.live``): it reloads itself, and the animations wait for the
    end. ``note``: a line for the top of the page. ``redraw``: draw every figure again."""
    started = time.time()
    tables = load_tables(sweep_dir)
    out = tables.sweep_dir / "report"
    own_dir(out)
    cache = FigureCache(out, code_digest(), forget=redraw)
    runs, epochs = tables.runs, tables.epochs
    parts: list[tuple[list[Figure], list[str]] | int] = []  # notes of their own, or a section's number
    sections: list[Section] = []

    def section(name: str, files: list[str], inputs: tuple, draw) -> None:
        def draw_it():  # what the page says about the figures: JSON, kept with them
            figures, notes = [], []
            try:
                draw(figures, notes)
            except WriteError:
                raise  # a full disk: no page can be written either
            except Exception as err:  # noqa: BLE001 (one figure that cannot be drawn must not cost the page)
                return [], notes + [figure_failed(name, err)]
            return [vars(f) for f in figures], notes

        parts.append(len(sections))
        sections.append(Section(name, files, inputs, draw_it))

    grids = {m: lr_epoch_grid(tables, m) for m in ("val_acc", "train_acc", "gap")} if not epochs.empty else {}
    if grids and len(grids["val_acc"].lrs) >= 2:
        grid = grids["val_acc"]
        section(
            "heatmaps",
            ["heatmap_val_acc.png", "heatmap_train_acc.png", "heatmap_gap.png"],
            (grids,),
            lambda figures, notes: heatmaps(grids, out, figures),
        )
        range_test = read_range_test(tables.sweep_dir)
        section(
            "accuracy_vs_lr",
            ["accuracy_vs_lr.png"],
            (grid, range_test),
            lambda figures, notes: accuracy_vs_lr(grid, out, figures, range_test),
        )
        if range_test is not None:
            tested = (range_test, tables.sweep_dir / "lr_find.csv")
            section(
                "lr_find",
                ["lr_find.png"],
                tested,
                lambda figures, notes: lr_find_figure(tables.sweep_dir, range_test, out, figures),
            )
        if live:
            parts.append(([], ["The animations are drawn when the sweep ends."]))
        else:
            section(
                "heatmap_animation",
                ["heatmap_val_acc_anim.gif", "heatmap_val_acc_anim.mp4"],
                (grid,),
                lambda figures, notes: heatmap_animation(grid, out, figures),
            )
    else:
        parts.append(([], ["No learning-rate x epoch heatmap: the runs of this sweep share one learning rate."]))

    if not epochs.empty:
        curves = (runs, epochs, tables.configs, shared_y)
        section(
            "learning_curves",
            ["learning_curves_acc.png", "learning_curves_loss.png"],
            curves,
            lambda figures, notes: learning_curves(*curves, out, figures),
        )
        if not live:
            section(
                "learning_curves_animation",
                ["learning_curves_anim.gif", "learning_curves_anim.mp4"],
                curves,
                lambda figures, notes: learning_curves_animation(runs, epochs, tables.configs, out, figures),
            )

    best = best_finished_run(runs, tables.sweep_dir)
    if best is not None:
        # by size and time; the config names the classes
        model_files = [*sorted(p for p in best.path.iterdir() if p.is_file()), best.path / ".hydra" / "config.yaml"]
        section(
            "model",
            list(MODEL_FIGURES),
            (best.path.name, *model_files),
            lambda figures, notes: figures.extend(model_figures(best, out, notes)),
        )
    else:
        parts.append(([], ["No model figures: no run finished with a saved model."]))

    section(
        "search",
        ["trials_parallel.png", "rungs.png", "optimisation_history.png"],
        (tables.sweep_dir / "trials.json", tables.sweep_dir / "skopt_convergence.png"),
        lambda figures, notes: figures.extend(search_figures(tables.sweep_dir, out, notes)),
    )
    if not live:  # the bootstrap takes seconds: once, when the sweep ends
        explained = (runs, tables.sweep_dir / "trials.json", tables.sweep_dir / "multirun.yaml")
        section(
            "importance",
            ["importance.png", "marginal_1.png", "marginal_2.png", IMPORTANCE_CSV],
            explained,
            lambda figures, notes: figures.extend(importance_figures(tables, out, notes)),
        )
    if not epochs.empty and not live:
        audited = (runs, epochs, tables.sweep_dir / "trials.json", tables.sweep_dir / "multirun.yaml")
        section(
            "pruning_audit",
            ["rank_correlation.png", "pruning_replay.png"],
            audited,
            lambda figures, notes: figures.extend(audit_figures(tables, out, notes)),
        )
    for name, caption in SKOPT_PLOTS.items():
        source = tables.sweep_dir / name
        if source.exists():
            section(
                name,
                [name],
                (source, tables.sweep_dir / "trials.json"),
                lambda figures, notes, source=source, name=name, caption=caption: figures.append(
                    copy_figure(source, out / name, f"{sweep_engine(tables.sweep_dir)}: {caption}")
                ),
            )
    strips = portrait_sections(runs, tables.sweep_dir, out)
    values = cache.get_all(sections + list(strips.values()))
    cache.save()
    portraits = {run: name for run, name in zip(strips, values[len(sections) :]) if name}
    parts = [(([Figure(**f) for f in values[p][0]], list(values[p][1])) if isinstance(p, int) else p) for p in parts]

    figures = [f for part_figures, _ in parts for f in part_figures]
    notes = ([note] if note else []) + [n for _, part_notes in parts for n in part_notes]
    # The findings: what the grids say about the rate, and the importance sentence of its section.
    findings = lr_findings(grids, runs) + [n for n in notes if n.startswith(IMPORTANCE_SENTENCE)]
    notes = [n for n in notes if not n.startswith(IMPORTANCE_SENTENCE)]
    comparison = race_statement(tables.sweep_dir, runs) or best_vs_runner_up(runs, tables.configs) or ""
    summary = " ".join(summary_lines(runs, tables.configs).splitlines()) + " " + chosen_on(runs)
    index = write_index(
        out,
        f"nnsweep report: {tables.sweep_dir.name}",
        summary,
        figures,
        runs,
        notes,
        live=live,
        comparison=comparison,
        portraits=portraits,
        findings=findings,
    )
    log.info(
        "report with %d figures (%d sections drawn) in %.1f s: %s",
        len(figures),
        len(cache.drawn),
        time.time() - started,
        index,
    )
    return index


def figure_failed(name: str, err: Exception) -> str:
    """The page's note for a section whose drawing raised, also printed as a warning line."""
    reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
    warn(f"report: {name} could not be drawn ({reason}); the rest of the page is written")
    return f"The {name.replace('_', ' ')} figure could not be drawn ({reason})."


def heatmaps(grids, out: Path, figures: list[Figure]) -> None:
    grid = grids["val_acc"]
    for metric, grid_ in grids.items():
        render_lr_epoch_heatmap(grid_, metric, out / f"heatmap_{metric}.png")
    rows = (
        "each learning rate"
        if grid.lr_only
        else "every configuration, a block of rows per group of the other settings, by learning rate within it"
        if grid.groups
        else "every configuration, by learning rate"
    )
    seeds = f", mean over {grid.repeats} seeds" if grid.repeats > 1 else ""
    pruned = (
        " A black bar ends the row of a run the search pruned after that epoch; it was not trained "
        "further (hatched cells)."
        if Status.PRUNED in grid.status
        else ""
    )
    figures.append(
        Figure(
            "heatmap_val_acc.png",
            f"Validation accuracy for {rows} (rows) after each epoch (columns)"
            f"{seeds}; the red box is the best cell. Colours span the rates that learned; the colour "
            "bar's arrow marks values below it. Grey rows diverged or never learned (a best no better "
            "than guessing: within 5 binomial standard deviations of chance on the validation set, "
            "e.g. 16.7% on 500 digits of 10 classes)." + pruned,
        )
    )
    figures.append(
        Figure("heatmap_train_acc.png", f"Training accuracy for {rows} and epoch{seeds}." + TRAIN_ACC_MEASURED)
    )
    figures.append(
        Figure(
            "heatmap_gap.png",
            "Training minus validation accuracy: where it turns red, the "
            "network has started to overfit." + TRAIN_ACC_MEASURED + " So the training accuracy lags "
            "the weights the epoch ends with and is lowered by dropout and augmentation: the gap shown "
            "is smaller than the final weights' (it can be negative in the first epochs).",
        )
    )


def accuracy_vs_lr(grid, out: Path, figures: list[Figure], range_test=None) -> None:
    render_accuracy_vs_lr(grid, out / "accuracy_vs_lr.png", None if grid.groups else range_test)
    if grid.groups:
        seeds = " Mean over seeds; band: its 95% interval; dots: each seed." if grid.repeats > 1 else ""
        figures.append(
            Figure(
                "accuracy_vs_lr.png",
                f"Validation accuracy at each configuration's best epoch "
                f"against learning rate, a line for each of the {len(grid.groups)} groups of the other "
                "settings; red crosses: diverged or never learned; the star marks the best mean." + seeds,
            )
        )
        return
    seeds = " Shaded: 95% interval over seeds; dots: each seed." if grid.repeats > 1 else ""
    suggested = (
        f" Dash-dotted: the learning-rate range test's suggestion ({range_test.rule}; {range_test.label}), "
        "from one short run before the sweep (nnsweep lr-find)."
        + ("" if range_test.learned else " The network did not learn in the test (below twice chance): it is noise.")
        if range_test is not None
        else ""
    )
    pruned = (
        " Hollow squares: rates the pruner stopped, at their last epoch, not on the line."
        if Status.PRUNED in grid.status
        else ""
    )
    figures.append(
        Figure(
            "accuracy_vs_lr.png",
            "Validation accuracy against learning rate at each configuration's "
            "best and last epoch; the star marks the best mean." + seeds + pruned + suggested,
        )
    )


def lr_find_figure(sweep_dir: Path, result, out: Path, figures: list[Figure]) -> None:
    """The figure of the range test recorded in ``sweep_dir`` (``result``: its record, read once by the build)."""
    render_range_test(sweep_dir, out / "lr_find.png")
    figures.append(
        Figure(
            "lr_find.png",
            "The learning-rate range test run before the sweep (nnsweep lr-find): one short run whose rate grows "
            f"per mini-batch, its loss against the rate, and its suggestion ({result.rule}; {result.label}).",
        )
    )


def heatmap_animation(grid, out: Path, figures: list[Figure]) -> None:
    animate_heatmap(grid, "val_acc", out / "heatmap_val_acc_anim")
    figures.append(
        Figure(
            "heatmap_val_acc_anim.gif",
            "The validation-accuracy heatmap filling in, epoch by epoch "
            "(one frame per epoch, or per few epochs for long runs).",
            video="heatmap_val_acc_anim.mp4",
            poster="heatmap_val_acc.png",
        )
    )


def learning_curves(runs, epochs, configs, shared_y: bool, out: Path, figures: list[Figure]) -> None:
    for kind in ("acc", "loss"):
        render_learning_curves(
            runs, epochs, kind, out / f"learning_curves_{kind}.png", shared_y=shared_y, configs=configs
        )
    seeds = " Mean over seeds, bands: 95% interval." if configs is not None and (configs["repeats"] > 1).any() else ""
    pruned = " X: where the pruner stopped the run." if (runs["status"] == Status.PRUNED).any() else ""
    figures.append(
        Figure(
            "learning_curves_acc.png",
            "Training and validation accuracy per epoch, one panel per "
            "configuration in learning-rate order (the best 16 by mean); dashed: the epoch early "
            "stopping would keep." + seeds + pruned,
        )
    )
    figures.append(
        Figure(
            "learning_curves_loss.png",
            "Training and validation cost per epoch, one panel per configuration in learning-rate order." + seeds,
        )
    )


def learning_curves_animation(runs, epochs, configs, out: Path, figures: list[Figure]) -> None:
    animate_learning_curves(runs, epochs, out / "learning_curves_anim", configs=configs)
    figures.append(
        Figure(
            "learning_curves_anim.gif",
            "The best configurations' learning curves growing, epoch by epoch, in learning-rate order.",
            video="learning_curves_anim.mp4",
            poster="learning_curves_acc.png",
        )
    )


def portrait_sections(runs, sweep_dir: Path, out: Path) -> dict[str, Section]:
    """Run -> the section that draws its portrait strip (``portraits/<hash>.png``: what it thinks
    each class looks like; its value the file's name, None if the model does not load), for every
    run of the table that left a model; each drawn again only when its model changed."""
    own_dir(out / "portraits")  # a link planted there would take the strips to its target
    sections = {}
    for run_name in runs["run"]:
        run = RunDir(sweep_dir / run_name)
        if not run.model_path.is_file():
            continue
        name = (
            f"portraits/{hashlib.sha1(str(run_name).encode()).hexdigest()[:12]}.png"  # a file name, whatever the run's
        )
        inputs = (run_name, run.model_path, run.path / MEAN_INPUT, run.path / ".hydra" / "config.yaml")
        sections[run_name] = Section(
            f"portrait {run_name}", [name], inputs, lambda run=run, name=name: portrait_strip(run, out, name)
        )
    return sections


def portrait_strip(run: RunDir, out: Path, name: str) -> str | None:
    """Draw ``run``'s portrait strip as ``out/name``: its name, or None if there is none (its
    model does not load, or the drawing raised: a warning, and the row goes without it)."""
    try:
        return name if render_run_portraits(run, out / name) else None
    except WriteError:
        raise
    except Exception as err:  # noqa: BLE001 (one strip that cannot be drawn must not cost the page)
        figure_failed(f"the portraits of {run.path.name}", err)
        return None


def copy_figure(source: Path, target: Path, caption: str) -> Figure:
    """A figure the sweep drew itself (scikit-optimize's), copied into the report."""
    with open(source, "rb") as f:
        atomic_write(target, lambda out: shutil.copyfileobj(f, out))
    return Figure(target.name, caption)
