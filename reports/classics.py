"""``results/classics/index.html``: each classic project's published numbers beside ours.

Reads what ``nnsweep.sweeps.classics_runner`` trained (``<out>/<group>/<run>``), never writes
into a run. Each group of runs is a folder ``nnsweep report`` reads as a sweep; its report is
brought up to date first and the page embeds its figures (Rashid's lr x epochs heatmap and its
animation, his back query of the best network, learning curves) beside the page's own
(``nnsweep.reports.classics_figures``). Every number of ours carries its 95% interval: one run's
accuracy on n test images is a binomial proportion (Wilson's interval, scipy), and a verdict
says "within 0.5 points", "ahead" or "behind" with the reason where we are behind.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import binomtest

from nnsweep.core.atomic import atomic_write_text, own_dir
from nnsweep.core.errors import NnsweepError
from nnsweep.reports import classics_figures as figures
from nnsweep.reports.live import refresh
from nnsweep.runrecord import RunDir, Status
from nnsweep.runrecord.names import RunRecordError
from nnsweep.sweeps.classics import (
    EXTERNAL_RUNS,
    HOW_TRAINED,
    OLIN_GAINS,
    OLIN_IMAGES,
    OLIN_RATES,
    RASHID_LR_PUBLISHED,
    RASHID_RATES,
    ROWS,
    RUNS,
    ClassicRow,
    Measure,
    Section,
    olin_key,
    rashid_key,
)

CLOSE = 0.005  # "within 0.5 points"
TINY_REPORT = "rashid-200"  # the one group report the test-size variant draws
FIGURES = "figures"


@dataclass(frozen=True)
class Ours:
    """Our number for a row: value and 95% interval on ``n`` test images, the training seconds it
    took, a detail ("epoch 5"), and for the test halves the second value. ``value`` None: no
    number (the runs diverged, failed, or the row's claim is in words), ``detail`` says why."""

    value: float | None
    low: float | None = None
    high: float | None = None
    seconds: float | None = None
    detail: str = ""
    second: float | None = None
    n: int = 10_000
    spread: tuple[float, float, int] | None = None  # lowest and highest over the row's seeds, and how many


def wilson(accuracy: float, n: int) -> tuple[float, float]:
    """The 95% interval of an accuracy measured on ``n`` images (Wilson's, for a proportion)."""
    interval = binomtest(int(round(accuracy * n)), n).proportion_ci(0.95, method="wilson")
    return float(interval.low), float(interval.high)


def scored(
    value: float, n: int, seconds: float | None, detail: str = "", second: float | None = None, spread=None
) -> Ours:
    return Ours(value, *wilson(value, n), seconds, detail, second, n, spread)


def seed_spread(out: Path, row: ClassicRow) -> tuple[float, float, int] | None:
    """The lowest and highest test accuracy over the row's seeds that are there, and how many."""
    values = []
    for key in row.seeds:
        summary = _summary(run_of(out, key))
        if summary is not None and summary.status.is_finished() and summary.test_acc is not None:
            values.append(summary.test_acc)
    return (min(values), max(values), len(values)) if len(values) > 1 else None


def run_of(out: Path, key: str) -> RunDir:
    if key in EXTERNAL_RUNS:
        return RunDir(EXTERNAL_RUNS[key])
    group = next(run.group for run in RUNS if run.key == key)
    return RunDir(out / group / key)


def _summary(run: RunDir):
    return run.summary_if_readable() if run.path.is_dir() else None


def _lr_text(run: RunDir) -> str:
    lr = run.config_data().get("optimizer", {}).get("lr")
    return f"lr {lr:g}, " if isinstance(lr, (int, float)) and not isinstance(lr, bool) else ""


def _divergence(runs: list[RunDir], summaries: list, seconds: float) -> Ours:
    parts = []
    for run, summary in zip(runs, summaries):
        loss = figures.final_training_loss(run)
        where = f"diverged in epoch {summary.diverged_epoch}" if summary.diverged_epoch else f"final loss {loss:.2g}"
        parts.append(f"{run.path.name.split('-')[2].replace('img', ' images')}: {where}")
    return Ours(None, seconds=seconds, detail="; ".join(parts))


def _halves(run: RunDir, seconds: float) -> Ours | None:
    try:
        evaluation = run.read_evaluation() or {}
    except RunRecordError:
        return None
    first, last = evaluation.get("mnist_first_5000_acc"), evaluation.get("mnist_last_5000_acc")
    if first is not None and last is not None:
        return scored(first, 5000, seconds, f"last 5,000: {last:.2%}", second=last)
    if evaluation.get("n_test") == 10_000:
        return None  # evaluate has not run with the final weights yet
    return Ours(None, seconds=seconds, detail="no halves: the test set is not the official MNIST test set")


# Long on purpose: one branch per kind of claim (Measure), each a few lines reading the runs it needs.
def measure(row: ClassicRow, out: Path) -> Ours | None:
    """Our number for ``row`` from its runs; None while they are not there (or not finished)."""
    runs = [run_of(out, key) for key in row.runs]
    summaries = [_summary(run) for run in runs]
    if any(key in EXTERNAL_RUNS for key in row.runs) and any(
        s is None or not s.status.is_finished() for s in summaries
    ):
        return Ours(None, detail="not trained yet: make draw trains it")
    if any(s is None or not s.status.is_finished() for s in summaries):
        return None
    seconds = sum(s.wall_time_s or 0.0 for s in summaries)
    if row.measure == Measure.divergence:
        return _divergence(runs, summaries, seconds)
    broken = [s for s in summaries if s.status in (Status.DIVERGED, Status.FAILED) or s.at_chance]
    if broken:
        what = "never learned" if broken[0].at_chance else str(broken[0].status.value)
        why = broken[0].error or "see its train.log"
        return Ours(None, seconds=seconds, detail=f"no result: the run {what} ({why})")
    n = summaries[0].test_size or 10_000
    if row.measure == Measure.halves:
        return _halves(runs[0], seconds)
    if row.measure == Measure.epoch:
        records = figures.epochs_of(runs[0])
        if len(records) < row.epoch:
            return Ours(None, seconds=seconds, detail=f"epoch {row.epoch} not reached ({len(records)} trained)")
        record = records[row.epoch - 1]
        took = sum(r.seconds for r in records[: row.epoch])
        peak = max(range(len(records)), key=lambda k: records[k].val_acc)  # the first of equal ones
        shape = f"; its best {records[peak].val_acc:.2%} after epoch {peak + 1} of {len(records)}"
        return scored(record.val_acc, n, took, f"{_lr_text(runs[0])}epoch {row.epoch}{shape}")
    if row.measure == Measure.best_cell:
        cells = []
        for run in runs:
            records = figures.epochs_of(run)
            cells += [(r.val_acc, run, records[:k]) for k, r in enumerate(records, 1) if math.isfinite(r.val_acc)]
        if not cells:
            return None
        acc, run, upto = max(cells, key=lambda cell: cell[0])
        detail = f"{_lr_text(run)}epoch {len(upto)}; the best of {len(cells)} test scores, picked as his was"
        return scored(acc, n, seconds, detail)  # the time: every run of the grid
    summary = summaries[0]
    if summary.test_acc is None or not summary.test_size:
        return None
    stopped = summary.status == Status.EARLY_STOPPED
    detail = f"stopped after epoch {summary.epochs_completed}, best epoch {summary.best_epoch}" if stopped else ""
    spread = seed_spread(out, row)
    if spread is not None:
        detail = f"{spread[2]} first weights: {_percent(spread[0])}-{_percent(spread[1])}"
    return scored(summary.test_acc, summary.test_size, seconds, detail, spread=spread)


def chance_difference(a: float, b: float, n: int) -> float:
    """How far apart (95%) two runs' accuracies on ``n`` test images fall by chance alone: 1.96
    standard errors of a difference of two independent proportions."""
    return 1.96 * math.sqrt(a * (1 - a) / n + b * (1 - b) / n)


# Long on purpose: the verdict's cases in the order they are decided, each a line or two of text.
def verdict(row: ClassicRow, ours: Ours | None, tiny: bool = False) -> str:
    """Ours against the published number, in points, with how far two runs differ by chance;
    against a bar ("at least"), whether we reach it; with other first weights, against all of
    them. A row's notes say why, behind or ahead."""
    if ours is None:
        return "not trained yet: make classics"
    if tiny:
        return "none: the test-size variant"
    published = row.published.value
    if ours.value is None:
        return "no number to compare" if published is None else "no result to compare"
    if published is None:
        return "no published number to set ours against"
    why = (": " + " ".join(row.notes)) if row.notes else ""
    if row.published.bar:
        reached = "reaches" if ours.value >= published else "falls short of"
        unsure = "; its interval reaches below it: one run cannot promise it" if ours.low < published else ""
        return f"{reached} the {published:.1%} bar by {abs(ours.value - published) * 100:.2f} points{unsure}{why}"
    pairs = [(ours.value, published)]
    if row.published.second is not None and ours.second is not None:
        pairs.append((ours.second, row.published.second))
    gaps = [a - b for a, b in pairs]
    noise = max(chance_difference(a, b, ours.n) for a, b in pairs)
    gap = max(gaps) if all(g >= -CLOSE for g in gaps) else min(gaps)
    direction = "ahead" if gap >= 0 else "behind"
    chance = f"{'more than' if abs(gap) > noise else 'within'} the ±{noise * 100:.2f} two runs differ by chance"
    if all(abs(g) <= CLOSE for g in gaps):
        return "within 0.5 points" + (f" ({direction} by {abs(gap) * 100:.2f}, {chance})" if abs(gap) > noise else "")
    if ours.spread is not None:
        low, high, count = ours.spread
        if low - CLOSE <= published <= high + CLOSE:
            return "within 0.5 points of our runs with other first weights: one run cannot tell them apart"
        nearest = high if published > high else low
        direction = "ahead" if published < low else "behind"
        return f"{direction} by {abs(published - nearest) * 100:.2f} points of all {count} first weights{why}"
    return f"{direction} by {abs(gap) * 100:.2f} points, {chance}{why or (': unexplained' if gap < 0 else '')}"


def refresh_reports(out: Path, tiny: bool = False) -> list[str]:
    """Bring the sweep reports the page shows figures of up to date (collecting their tables first
    if they changed); returns a line for each that could not be (the page goes on without its
    figures). Olin's CNN grid has none: the page draws its own view of it, and its 24 runs'
    class portraits would take a minute (``nnsweep report`` draws them on demand). The test-size
    variant draws one, enough to check the page embeds its figures."""
    problems = []
    groups = dict.fromkeys(group for shown in REPORT_FIGURES.values() for group, _, _ in shown)
    for group in [TINY_REPORT] if tiny else groups:
        folder = out / group
        if folder.is_dir() and any(p.is_dir() and p.name != "report" for p in folder.iterdir()):
            try:
                refresh(folder)
            except NnsweepError as err:
                problems.append(f"The report of {group} could not be drawn: {err}")
    return problems


def olin_grid_sentence(out: Path) -> str:
    """What the grid shows, from its runs: which settings diverged, and how the original's did."""
    grid = {
        (n, lr, g): _summary(run_of(out, olin_key(n, lr, g)))
        for n in OLIN_IMAGES
        for lr in OLIN_RATES
        for g in OLIN_GAINS
    }
    done = {key: s for key, s in grid.items() if s is not None and s.status.is_finished()}
    if not done:
        return ""
    diverged = sorted(key for key, s in done.items() if s.status == Status.DIVERGED)
    cells = ", ".join(f"{n} images at lr {lr:g} with {g:g}x weights" for n, lr, g in diverged) or "none"
    original = [done.get((n, 0.0001, 3.0)) for n in OLIN_IMAGES]
    said = f"In nnsweep's grid ({len(done)} of {len(grid)} runs there), training diverged in {len(diverged)}: {cells}."
    if diverged and all(s is not None and s.status != Status.DIVERGED for s in original):
        ratio = min(lr for _, lr, _ in diverged) / 0.0001
        said += (
            f" At the original's setting (lr 1e-4, 3x weights) plain steps did not diverge on 2 or on 5 images; only "
            f"a rate {ratio:,.0f} times larger made them. So plain SGD does not explain the reported divergence; the "
            "notebook's growing steps and overflowing exp are what differs."
        )
    return said


def own_figures(out: Path) -> dict[Section, list[tuple[str, str]]]:
    """The page's own figures per section: (path relative to the page, caption)."""
    own_dir(out / FIGURES)
    made: dict[Section, list[tuple[str, str]]] = {section: [] for section in Section}

    def add(section: Section, path: Path | None, caption: str) -> None:
        if path is not None:
            made[section].append((str(path.relative_to(out)), caption))

    lr_runs = {lr: run_of(out, rashid_key(lr)) for lr in RASHID_RATES}
    gradient_runs = {lr: run_of(out, rashid_key(lr, gradient=True)) for lr in RASHID_RATES}
    published = {**RASHID_LR_PUBLISHED, 0.3: ROWS[0].published.value}  # the first network: lr 0.3
    lr_figure = figures.render_rashid_lr(lr_runs, gradient_runs, published, out / FIGURES / "rashid_lr.png")
    add(Section.rashid, lr_figure, "")
    epochs_row = next(row for row in ROWS if row.measure == Measure.epoch)  # his epochs experiment
    epochs_figure = figures.render_rashid_epochs(
        run_of(out, epochs_row.runs[0]),
        (epochs_row.epoch, epochs_row.published.value),
        out / FIGURES / "rashid_epochs.png",
    )
    add(Section.rashid, epochs_figure, "")
    add(
        Section.mlp,
        figures.render_mlp_mistakes(run_of(out, "mlp-128x2"), out / FIGURES / "mlp_128x2_mistakes.png"),
        "784-128-128-10: its 25 most confident mistakes on the test set",
    )
    grid = {(n, lr, g): run_of(out, olin_key(n, lr, g)) for n in OLIN_IMAGES for lr in OLIN_RATES for g in OLIN_GAINS}
    divergence = figures.render_olin_divergence(
        grid, OLIN_IMAGES, OLIN_RATES, OLIN_GAINS, (0.0001, 3.0), out / FIGURES / "olin_cnn_divergence.png"
    )
    add(Section.olin, divergence, "")
    return made


REPORT_FIGURES = {
    Section.rashid: [
        (
            "rashid-200",
            "heatmap_val_acc_anim.gif",
            "784-200-10: test accuracy over learning rate x epochs, epoch by epoch",
        ),
        (
            "rashid-200",
            "digit_portraits.png",
            "Back query of the best 784-200-10 network: what it thinks each digit is",
        ),
    ],
    Section.nielsen: [("nielsen", "learning_curves_acc.png", "Training and validation accuracy, epoch by epoch")],
    Section.lenet5: [("lenet5", "learning_curves_acc.png", "Training accuracy and test accuracy, epoch by epoch")],
    Section.olin: [("olin-feed-forward", "learning_curves_acc.png", "The feed-forward network, epoch by epoch")],
}


def _cell(text: str) -> str:
    return f"<td>{html.escape(text)}</td>"


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.1f} min"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


def row_html(row: ClassicRow, ours: Ours | None, tiny: bool = False) -> str:
    published = row.published
    if ours is None:
        our_text, our_time = "", ""
    elif ours.value is None:
        our_text, our_time = ours.detail, _seconds(ours.seconds)
    else:
        interval = f" ({_percent(ours.low)}-{_percent(ours.high)})" if ours.low is not None else ""
        our_text = _percent(ours.value) + interval + (f"; {ours.detail}" if ours.detail else "")
        our_time = _seconds(ours.seconds)
    cells = [row.label, row.setup, f"{published.text} ({published.source})", our_text, verdict(row, ours, tiny)]
    cells.append(f"{our_time} here; {published.time or 'not published'}")
    return "<tr>" + "".join(_cell(c) for c in cells) + "</tr>"


PAGE_STYLE = """body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;
font-size:90%}th{background:#f0f0f0}figure{display:inline-block;margin:.5em}img{max-width:560px}"""


def write_classics_page(out: str | Path, note: str = "", tiny: bool = False) -> Path:
    """Write ``<out>/index.html`` from whatever runs are there (refreshing the groups' reports)."""
    started = time.time()
    out = Path(out)
    problems = refresh_reports(out, tiny)
    made = own_figures(out)
    parts = [f"<h1>The classic MNIST projects, reproduced by nnsweep</h1><p>{html.escape(note)}</p>"]
    parts += [f"<p><b>{html.escape(problem)}</b></p>" for problem in problems]
    parts.append(
        "<p>One seed per setup. Each accuracy of ours is one run's on the test set, with its 95% interval "
        "(Wilson's, for a proportion); a published number is one run too, so two runs of one setup differ by "
        "chance by up to about ±0.6 points at 95% accuracy and ±0.3 at 99% (each verdict says how much for its "
        "row), besides what other first weights change. Times: each run's training on this machine (one BLAS "
        "thread per run; make classics trains two at a time on two cores), against the author's where published.</p>"
    )
    header = "<tr><th>experiment</th><th>setup</th><th>published</th><th>ours</th><th>verdict</th><th>time</th></tr>"
    for section in Section:
        rows = [row for row in ROWS if row.section == section]
        table = "".join(row_html(row, measure(row, out), tiny) for row in rows)
        intro = HOW_TRAINED[section] + (" " + olin_grid_sentence(out) if section == Section.olin else "")
        parts.append(f"<h2>{html.escape(section.value)}</h2><p>{html.escape(intro.strip())}</p>")
        parts.append(f"<table>{header}{table}</table>")
        shown = list(made[section])
        for group, name, caption in REPORT_FIGURES.get(section, []):
            if (out / group / "report" / name).is_file():
                shown.append((f"{group}/report/{name}", caption))
        for path, caption in shown:
            parts.append(f'<figure><img src="{html.escape(path)}" alt="{html.escape(caption)}">')
            parts.append(f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        links = sorted({run.group for run in RUNS if run.key in {k for r in rows for k in r.runs}})
        reports = [g for g in links if (out / g / "report" / "index.html").is_file()]
        if reports:
            parts.append("<p>Full reports: " + ", ".join(f'<a href="{g}/report/index.html">{g}</a>' for g in reports))
    page = "<!doctype html><html><head><meta charset='utf-8'><title>nnsweep: the classics</title>"
    page += f"<style>{PAGE_STYLE}</style></head><body>{''.join(parts)}"
    page += f"<p>Page written in {time.time() - started:.1f} s.</p></body></html>\n"
    atomic_write_text(out / "index.html", page)
    return out / "index.html"
