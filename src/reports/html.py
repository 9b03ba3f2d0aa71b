"""``index.html``: one self-contained page per report, every link relative, nothing from the network.

A small inline script checks every image once the page has loaded: a broken one gets a visible
"missing" note, and ``<body data-images="loaded/total">`` records the count (the browser test
reads it).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nets.atomic import atomic_write_text

# ``rung`` (a pruned search only): the highest rung the run reached, 0 the first (``sweeps.collect``).
TABLE_COLUMNS = ["run", "status", "rung", "best_val_acc", "best_epoch", "final_val_acc", "test_acc", "lr", "net_name",
                 "hidden", "optimizer_name", "l2", "batch_size", "epochs", "epochs_completed", "diverged_epoch",
                 "wall_time_s", "error"]
INTEGER_COLUMNS = ("rung", "best_epoch", "batch_size", "epochs", "epochs_completed", "diverged_epoch")

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

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
figure { margin: 2em 0; } figure img, figure video { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; margin-top: .4em; } .missing { color: #b00020; font-weight: bold; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
th { background: #f3f3f3; } tr.best td { background: #fff6d5; } .note { color: #666; }
"""


@dataclass
class Figure:
    """One entry of the page: a file in the report folder and its one-line caption."""

    file: str
    caption: str
    video: str | None = None  # an MP4 shown alongside a GIF


def results_table(runs: pd.DataFrame) -> str:
    """Every run as a table row, in the order of ``runs``; the best run's row has class "best"."""
    columns = [c for c in TABLE_COLUMNS if c in runs.columns]
    extra = [c for c in runs.columns if "." in c and c not in columns]
    shown = runs[columns[:1] + extra + columns[1:]].copy()
    for c in ("best_val_acc", "final_val_acc", "test_acc"):
        if c in shown:
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    for c in INTEGER_COLUMNS:
        if c in shown:
            shown[c] = shown[c].map(_integer_text)
    table = shown.to_html(index=False, na_rep="", escape=True, border=0)
    scores = pd.to_numeric(runs["best_val_acc"], errors="coerce") if "best_val_acc" in runs else pd.Series(dtype=float)
    if not scores.notna().any():
        return table
    return mark_row(table, int(np.nanargmax(scores.to_numpy(dtype=float))), "best")


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
    return (head + tbody + "<tr>".join(pieces[:index + 1]) + f'<tr class="{css_class}">'
            + "<tr>".join(pieces[index + 1:]))


def write_index(report_dir: Path, title: str, summary: str, figures: list[Figure], runs: pd.DataFrame,
                notes: list[str]) -> Path:
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(summary)}</p>"]
    for note in notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    for fig in figures:
        media = f'<img src="{html.escape(fig.file)}" alt="{html.escape(fig.caption)}">'
        if fig.video:
            media += (f'<br><video src="{html.escape(fig.video)}" controls loop muted preload="none"></video>'
                      f' <a href="{html.escape(fig.video)}">MP4</a>')
        parts.append(f"<figure>{media}<figcaption>{html.escape(fig.caption)}</figcaption></figure>")
    parts.append("<h2>All runs, best first</h2>")
    parts.append(results_table(runs))
    page = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(parts) +
            f"\n<script>{CHECK_IMAGES}</script>\n</body></html>\n")
    path = report_dir / "index.html"
    atomic_write_text(path, page)
    return path
