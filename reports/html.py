"""``index.html``: one self-contained page per report, every link relative, nothing from the network.

A small inline script checks every image once the page has loaded: a broken one gets a visible
"missing" note, and ``<body data-images="loaded/total">`` records the count (the browser test
reads it).

The page of a running sweep (``live``, ``nnsweep.reports.live``) says how many runs are running, done,
failed and pruned, and reloads itself every few seconds, keeping the reader's scroll position,
for as long as ``live.js`` (rewritten by the report's watcher at every poll) says the sweep runs
and its heartbeat is fresh; the final page has no such script.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from nnsweep.core.atomic import atomic_write_text
from nnsweep.sweeps.collect import SETTING_COLUMNS, SUMMARY_COLUMNS

# The objective (the best validation accuracy, what runs are chosen by) first, then the run and
# the overrides it was given. ``rung`` (a pruned search only): the highest rung the run reached,
# 0 the first (``nnsweep.sweeps.collect``).
OBJECTIVE = "best_val_acc"
TABLE_COLUMNS = [
    OBJECTIVE,
    "run",
    "status",
    "rung",
    "best_epoch",
    "final_val_acc",
    "test_acc",
    "lr",
    "net_name",
    "hidden",
    "optimizer_name",
    "l2",
    "batch_size",
    "epochs",
    "epochs_completed",
    "diverged_epoch",
    "wall_time_s",
    "error",
]
INTEGER_COLUMNS = ("rung", "best_epoch", "batch_size", "epochs", "epochs_completed", "diverged_epoch")
OVERRIDE_GROUPS = ("optimizer", "net", "data", "schedule", "experiment")  # config groups a sweep may vary
SWEEP_TABLES = ("runs.csv", "epochs.csv", "configs.csv")  # linked from the page when the sweep has them

# Click a header to sort the table by it (again: the other way); numbers in numeric order, empty
# cells last either way. Inline, as every script of the page: a report opens without a network.
SORT = """
function compareCells(a, b, direction) {
  if (a === "" || b === "") return (a === "") - (b === "");
  var x = Number(a), y = Number(b);
  if (!isNaN(x) && !isNaN(y)) return direction * (x - y);
  if (!isNaN(x) || !isNaN(y)) return direction * (isNaN(x) - isNaN(y));
  return direction * a.localeCompare(b, undefined, {sensitivity: "base", numeric: true});
}
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, column) {
    th.title = "click to sort";
    th.addEventListener("click", function () {
      var direction = th.dataset.sort === "up" ? -1 : 1, body = table.tBodies[0];
      headers.forEach(function (h) { delete h.dataset.sort; });
      th.dataset.sort = direction === 1 ? "up" : "down";
      Array.from(body.rows).map(function (row) { return [row.cells[column].textContent.trim(), row]; })
        .sort(function (p, q) { return compareCells(p[0], q[0], direction); })
        .forEach(function (pair) { body.appendChild(pair[1]); });
    });
  });
});
"""

CHECK_IMAGES = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img"), loaded = 0;
  images.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { loaded += 1; return; }
    var note = document.createElement("p");
    note.className = "missing";
    note.textContent = "missing image: " + img.getAttribute("src");
    img.replaceWith(note);
  });
  document.body.dataset.images = loaded + "/" + images.length;
});
"""

LIVE = """
(function () {
  var body = document.body, every = Number(body.dataset.refresh) * 1000;
  var where = "nnsweep-scroll:" + location.pathname;
  var saved = sessionStorage.getItem(where);
  if (saved !== null) window.scrollTo(0, Number(saved));
  var loads = Number(sessionStorage.getItem("nnsweep-loads") || 0) + 1;
  sessionStorage.setItem("nnsweep-loads", loads);
  body.dataset.loads = loads;
  function stop(text) {
    var line = document.getElementById("live");
    line.textContent = text;
    body.dataset.live = "stopped";
  }
  var script = document.createElement("script");
  script.src = "live.js?" + Date.now();
  script.onerror = function () { stop("This page stopped following the sweep: live.js is missing."); };
  script.onload = function () {
    var live = window.nnsweepLive || {};
    var age = Date.now() / 1000 - live.heartbeat;
    if (live.state === "stopped") { stop("The sweep stopped before it finished: " + live.message); return; }
    if (live.state === "running" && age > live.stale_after) {
      stop("No news from the sweep for " + Math.round(age) + " s: its process was probably killed; rerun the "
           + "same command to continue it.");
      return;
    }
    setTimeout(function () {
      sessionStorage.setItem(where, String(window.scrollY));
      location.reload();
    }, every);
  };
  document.head.appendChild(script);
})();
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
figure { margin: 2em 0; } figure img, figure video { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; margin-top: .4em; } .missing { color: #b00020; font-weight: bold; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
th { background: #f3f3f3; } tr.best td { background: #fff6d5; } .note { color: #666; }
.table-wrap { overflow-x: auto; max-width: 100%; } img.portraits { width: 289px; display: block; }
.comparison { font-size: 1.1em; border-left: 4px solid #1f5fbf; padding-left: .6em; }
#live { background: #eef6ff; padding: .5em .8em; }
.status span { margin-right: 1.2em; } td.status-running { color: #1f5fbf; font-weight: bold; }
td.status-failed, td.status-diverged, td.status-interrupted { color: #b00020; font-weight: bold; }
td.status-pruned, td.status-paused { color: #7a5b00; }
table.sortable th { cursor: pointer; } th[data-sort="up"]::after { content: " \\25B2"; }
th[data-sort="down"]::after { content: " \\25BC"; } .shared { color: #444; }
"""
DID_NOT_LEARN = "did_not_learn"  # ended by itself at chance (``tables.never_learned``): not a result
STATUS_ORDER = (
    "running",
    "paused",
    "ok",
    "early_stopped",
    DID_NOT_LEARN,
    "pruned",
    "diverged",
    "failed",
    "interrupted",
)


@dataclass
class Figure:
    """One entry of the page: a file in the report folder and its one-line caption."""

    file: str
    caption: str
    video: str | None = None  # an MP4 shown alongside a GIF
    poster: str | None = None  # the still the video shows before it plays (else a black box)


def table_columns(runs: pd.DataFrame) -> list[str]:
    """The columns of the results table in their order: the objective, the run, the overrides
    the sweep gave (``optimizer.lr``, ``net``), then the rest of ``TABLE_COLUMNS``."""
    columns = [c for c in TABLE_COLUMNS if c in runs.columns]
    extra = [
        c
        for c in runs.columns
        if c not in TABLE_COLUMNS
        and c not in SUMMARY_COLUMNS
        and c not in SETTING_COLUMNS
        and c not in ("seed", "rung")
        and ("." in c or c in OVERRIDE_GROUPS)
    ]
    head = [c for c in (OBJECTIVE, "run") if c in columns]
    return head + extra + [c for c in columns if c not in head]


def constant_columns(table: pd.DataFrame, keep: tuple[str, ...] = (OBJECTIVE, "run")) -> list[str]:
    """The columns of ``table`` (values as shown) with one value, or none, in every row: said
    once above the table rather than repeated in each row. One row hides nothing."""
    if len(table) < 2:
        return []
    return [c for c in table.columns if c not in keep and table[c].astype(str).nunique(dropna=False) == 1]


def shared_line(shown: pd.DataFrame, constant: list[str]) -> str:
    """ "Shared by all 12 runs: status ok, batch_size 10 ...; empty in every run: error." """
    if not constant:
        return ""
    values = [f"{c} {shown[c].iloc[0]}" for c in constant if str(shown[c].iloc[0]) not in ("", "nan")]
    empty = [c for c in constant if str(shown[c].iloc[0]) in ("", "nan")]
    parts = (
        [f"Shared by all {len(shown)} runs (columns not repeated below): " + ", ".join(values)] if values else []
    ) + (["empty in every run: " + ", ".join(empty)] if empty else [])
    return f'<p class="shared">{html.escape("; ".join(parts))}.</p>'


def results_table(runs: pd.DataFrame, portraits: dict[str, str] | None = None, sweep_dir: Path | None = None) -> str:
    """Every run as a table row, in the order of ``runs``, the objective first; the best run's
    row has class "best". Columns with one value in every run are left out and named in a line
    above the table (returned with it). ``portraits``: run -> the image of what it thinks each
    class looks like, in a column of its own. ``sweep_dir``: each run's name links to its
    directory there (relative to the report, ``../<run>/``) when it has one."""
    shown = runs[[c for c in table_columns(runs) if c != "at_chance"]].copy()
    if "status" in shown and "best_val_acc" in runs and len(runs):  # as the status line counts them
        from nnsweep.reports.tables import never_learned

        shown["status"] = shown["status"].where(~never_learned(runs), DID_NOT_LEARN)
    for c in ("best_val_acc", "final_val_acc", "test_acc"):
        if c in shown:
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    for c in INTEGER_COLUMNS:
        if c in shown:
            shown[c] = shown[c].map(_integer_text)
    if "wall_time_s" in shown:
        seconds = pd.to_numeric(shown["wall_time_s"], errors="coerce")
        shown["wall_time_s"] = shown["wall_time_s"].where(seconds.isna(), seconds.map(lambda v: f"{v:.1f}"))
    shown = shown.map(lambda v: f"{v:g}" if isinstance(v, float) and not pd.isna(v) else v)
    constant = constant_columns(shown)
    above = shared_line(shown, constant)
    shown = shown.drop(columns=constant)
    if portraits:
        shown.insert(
            shown.columns.get_loc("run") + 1 if "run" in shown else 0,
            "portraits",
            [f"\x00{i}\x00" if r in portraits else "" for i, r in enumerate(runs["run"])],
        )
    linked = sweep_dir is not None and "run" in shown
    if linked:
        shown["run"] = [f"\x01{i}\x01" for i in range(len(runs))]
    table = shown.to_html(index=False, na_rep="", escape=True, border=0, classes="sortable")
    statuses = "|".join(STATUS_ORDER)
    table = re.sub(rf"<td>({statuses})</td>", r'<td class="status-\1">\1</td>', table)
    if portraits:
        files = [portraits.get(r) for r in runs["run"]]
        table = re.sub(
            "\x00(\\d+)\x00",
            lambda m: (
                f'<img class="portraits" src="{html.escape(files[int(m.group(1))])}" '
                'alt="what the run thinks each class looks like">'
            ),
            table,
        )
    if linked:
        names = [str(r) for r in runs["run"]]
        table = re.sub("\x01(\\d+)\x01", lambda m: _run_link(names[int(m.group(1))], sweep_dir), table)
    table = above + table
    scores = pd.to_numeric(runs["best_val_acc"], errors="coerce") if "best_val_acc" in runs else pd.Series(dtype=float)
    if not scores.notna().any():
        return table
    return mark_row(table, int(np.nanargmax(scores.to_numpy(dtype=float))), "best")


def _run_link(run: str, sweep_dir: Path) -> str:
    """The run's name, a link to its directory when the sweep has it (a run's name is one
    directory's: quoted, never a path that leaves the sweep)."""
    if "/" in run or run in ("", ".", "..") or not (sweep_dir / run).is_dir():
        return html.escape(run)
    return f'<a href="../{html.escape(quote(run, safe="=,"))}/">{html.escape(run)}</a>'


def _integer_text(value):
    """3.0 -> "3" (pandas reads a column with a gap as floats); anything else unchanged."""
    try:
        return str(int(value)) if float(value).is_integer() else value
    except (TypeError, ValueError, OverflowError):
        return value


def mark_row(table: str, index: int, css_class: str) -> str:
    """``table`` (pandas' HTML) with body row ``index`` given ``css_class``. The header row is
    ``<tr style=...>``, so rows are counted inside ``<tbody>`` only."""
    head, tbody, body = table.partition("<tbody>")
    pieces = body.split("<tr>")  # pieces[0] is what comes before the first body row
    return (
        head + tbody + "<tr>".join(pieces[: index + 1]) + f'<tr class="{css_class}">' + "<tr>".join(pieces[index + 1 :])
    )


def status_line(runs: pd.DataFrame) -> str:
    """How many runs are in each state: running, done (ok, early stopped), pruned, failed ...; a
    run that ended without learning counts as "did not learn", as the closing line counts it."""
    from nnsweep.reports.tables import never_learned

    statuses = runs["status"].astype(str) if "status" in runs else pd.Series([], dtype=str)
    if len(statuses) and "best_val_acc" in runs:
        statuses = statuses.where(~never_learned(runs), DID_NOT_LEARN)
    counts = statuses.value_counts().to_dict()
    names = sorted(counts, key=lambda s: (STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER), s))
    spans = "".join(
        f'<span data-status="{html.escape(s)}">{html.escape(s.replace("_", " "))}: {counts[s]}</span>' for s in names
    )
    return f'<p class="status">{spans}</p>'


def write_index(
    report_dir: Path,
    title: str,
    summary: str,
    figures: list[Figure],
    runs: pd.DataFrame,
    notes: list[str],
    live: bool = False,
    refresh_s: float = 2.0,
    comparison: str | None = None,
    portraits: dict[str, str] | None = None,
    findings: list[str] | None = None,
) -> Path:
    """The report page: title, status, summary, the best-vs-runner-up comparison, ``findings``
    (each a sentence with its numbers, as a list), notes, figures, then every run."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if live:
        parts.append(
            f'<p id="live">The sweep is running: this page follows it, reloading every {refresh_s:g} s '
            f"(built {time.strftime('%H:%M:%S')}).</p>"
        )
    parts += [status_line(runs), f"<p>{html.escape(summary)}</p>"]
    if comparison:
        parts.append(f'<p class="comparison">{html.escape(comparison)}</p>')
    if findings:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in findings)
        parts.append(f'<h2>Findings</h2><ul class="findings">{items}</ul>')
    for note in notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    for fig in figures:
        media = f'<img src="{html.escape(fig.file)}" alt="{html.escape(fig.caption)}">'
        if fig.video:
            poster = f' poster="{html.escape(fig.poster)}"' if fig.poster else ""
            media += (
                f'<br><video src="{html.escape(fig.video)}"{poster} controls loop muted preload="none"></video>'
                f' <a href="{html.escape(fig.video)}">MP4</a>'
            )
        parts.append(f"<figure>{media}<figcaption>{html.escape(fig.caption)}</figcaption></figure>")
    parts.append("<h2>All runs, best first</h2>")
    tables = [name for name in SWEEP_TABLES if (report_dir.parent / name).is_file()]
    if tables:
        links = ", ".join(f'<a href="../{name}">{name}</a>' for name in tables)
        parts.append(
            f"<p class=\"tables\">The sweep's tables: {links}. Click a column's name to sort by it; "
            "a run's name opens its directory.</p>"
        )
    parts.append(f'<div class="table-wrap">{results_table(runs, portraits, report_dir.parent)}</div>')
    scripts = f"<script>{CHECK_IMAGES}</script>\n<script>{SORT}</script>" + (
        f"\n<script>{LIVE}</script>" if live else ""
    )
    body = f'<body data-live="1" data-refresh="{refresh_s:g}">' if live else "<body>"
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n{body}\n" + "\n".join(parts) + f"\n{scripts}\n</body></html>\n"
    )
    path = report_dir / "index.html"
    atomic_write_text(path, page)
    return path


def write_waiting_page(report_dir: Path, name: str, refresh_s: float) -> Path:
    """The live page of a sweep whose first figures are not drawn yet: it reloads until they are."""
    return write_index(
        report_dir,
        f"nnsweep report: {name}",
        "The sweep has started: its tables and figures appear here as its runs start and finish.",
        [],
        pd.DataFrame({"run": [], "status": []}),
        [],
        live=True,
        refresh_s=refresh_s,
    )
