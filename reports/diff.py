"""``nnsweep diff A B`` as a reader sees it: a plain-text summary for the terminal (``diff_text``)
and a page, ``index.html`` with ``curves.png`` (``write_page``), each in the order a difference is
best explained: the environments first, then the settings, then every matched configuration
with its verdict (``nnsweep.sweeps.diff`` decides everything said here).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from nnsweep.core.atomic import atomic_write_text
from nnsweep.reports.html import CHECK_IMAGES, STYLE
from nnsweep.reports.pruning_audit import text_table
from nnsweep.reports.style import plt, save
from nnsweep.reports.tables import setting_text
from nnsweep.sweeps.comparison import Verdict, mean_interval
from nnsweep.sweeps.diff import (
    Configuration,
    DiffVerdict,
    EnvironmentDiff,
    MatchedPair,
    MetricDifference,
    Side,
    SweepDiff,
)

CURVES = "curves.png"
MAX_LEGEND = 20  # configurations named in the figure's legend (the table names every one)
MAX_LISTED = 10  # unmatched configurations the terminal names (the page names every one)
COLUMNS = ["configuration", "seeds", "A val", "B val", "B-A val [95%]", "A test", "B test", "B-A test [95%]", "verdict"]


def configuration_name(configuration: Configuration) -> str:
    """ "lr 0.003", "lr 0.1, hidden [100]"; "all runs" when nothing varies."""
    parts = []
    for s in configuration.settings:
        try:
            value: object = float(s.value)
        except ValueError:
            value = s.value
        parts.append(setting_text(s.key, value))
    return ", ".join(parts) or "all runs"


def side_text(side: Side) -> str:
    if side.is_run:
        return "one run"
    return f"sweep of {len(side.runs)} run{'s' if len(side.runs) != 1 else ''}"


def percent(value: float) -> str:
    return f"{100 * value:.2f}" if math.isfinite(value) else "-"


def signed(points: float) -> str:
    """A difference in points, signed, never "-0.00"."""
    text = f"{points:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def difference_text(d: MetricDifference) -> str:
    """ "+1.20 [-0.30, +2.70]"; "+0.40 (one seed)"; "0.00 (no spread)"."""
    if not math.isfinite(d.points):
        return "-"
    c = d.comparison
    if c is None:
        return f"{signed(d.points)} (one seed)" if max(d.a.n, d.b.n) <= 1 else f"{signed(d.points)} (too few seeds)"
    if c.verdict is Verdict.NO_SPREAD or not math.isfinite(c.difference.low):
        return f"{signed(d.points)} (no spread)"
    return f"{signed(d.points)} [{signed(c.difference.low)}, {signed(c.difference.high)}]"


def seeds_text(pair: MatchedPair) -> str:
    """ "3 paired", or the seeds of each side: "3 + 2" (unpaired), "1 + 1"."""
    c = pair.val.comparison
    if c is not None and c.unpaired is None:
        return f"{c.difference.n} paired"
    return f"{len(pair.a.runs)} + {len(pair.b.runs)}"


def verdict_text(pair: MatchedPair) -> str:
    return pair.verdict.value if pair.verdict is DiffVerdict.IDENTICAL else f"{pair.verdict.value} ({pair.reason})"


def pair_row(pair: MatchedPair) -> list[str]:
    return [
        configuration_name(pair.a),
        seeds_text(pair),
        percent(pair.val.a.mean),
        percent(pair.val.b.mean),
        difference_text(pair.val),
        percent(pair.test.a.mean),
        percent(pair.test.b.mean),
        difference_text(pair.test),
        verdict_text(pair),
    ]


def environment_sentence(env: EnvironmentDiff) -> str:
    """What can be said of the environments before their differences are listed."""
    (ua, ub), (na, nb) = env.unrecorded, env.runs
    if not env.comparable:
        if ua == na and ub == nb:
            return (
                "Environment: not recorded (every run of A and B predates environment.json): whether NumPy, the "
                "BLAS or the CPU differ cannot be told."
            )
        missing, other = ("A", "B") if ua == na else ("B", "A")
        return f"Environment: recorded for {other} only (no run of {missing} has an environment.json): not compared."
    partly = [f"{u} of {n} runs of {s}" for u, n, s in ((ua, na, "A"), (ub, nb, "B")) if u]
    unrecorded = f" (not recorded for {' and '.join(partly)})" if partly else ""
    if not env.changes:
        return f"Environment: the same in every recorded aspect (packages, BLAS, Python, CPU, nnsweep){unrecorded}."
    return f"Environment differs (A -> B){unrecorded}:"


def match_sentence(d: SweepDiff) -> str:
    total = f"{len(d.pairs)} matched"
    if not d.match_keys:
        return f"No setting varies within either side: the runs of each are one configuration ({total})."
    why = "given with --match" if d.keys_given else "the settings the sweeps vary"
    return f"Configurations matched by {', '.join(d.match_keys)} ({why}): {total}."


def unmatched_lines(d: SweepDiff, most: int | None = None) -> list[str]:
    """ "Only in A: lr 20; lr 30", the first ``most`` of each (None: all)."""
    lines = []
    for label, found in (("A", d.only_a), ("B", d.only_b)):
        names = [configuration_name(c) for c in found]
        more = f"; and {len(names) - most} more" if most is not None and len(names) > most else ""
        if names:
            lines.append(f"Only in {label}: {'; '.join(names[:most])}{more}")
    return lines


def pair_sentence(pair: MatchedPair) -> str:
    """What a pair's numbers support (``comparison.Comparison.sentence`` where there is an interval)."""
    val = pair.val
    if pair.identical:
        return "identical: the same seeds, and each seed's learning curve and weights are the same bits."
    if val.comparison is not None:
        return val.comparison.sentence()
    if not (math.isfinite(val.a.mean) and math.isfinite(val.b.mean)):
        return "no validation accuracy on one side (its runs failed or are still running): nothing to compare."
    seeds = "one seed" if max(val.a.n, val.b.n) == 1 else "too few seeds"
    if signed(val.points) == "0.00":
        return (
            f"the same best validation accuracy on {seeds}, but the curves or weights differ: too few seeds to "
            "tell whether the two are the same."
        )
    return f"differs by {abs(val.points):.2f} points on {seeds}: too few seeds to tell (train repeats)."


def notes(d: SweepDiff) -> list[str]:
    """The sentence of each pair that is not identical: what its numbers support."""
    return [f"{configuration_name(p.a)}: {pair_sentence(p)}" for p in d.pairs if p.verdict is not DiffVerdict.IDENTICAL]


def summary(d: SweepDiff) -> str:
    """One line: "11 of 11 configurations identical", or how many of each verdict, and the unmatched."""
    n, plural = len(d.pairs), "s" if len(d.pairs) != 1 else ""
    unmatched = [f"{len(c)} only in {s}" for c, s in ((d.only_a, "A"), (d.only_b, "B")) if c]
    if n and d.count(DiffVerdict.IDENTICAL) == n and not unmatched:
        return f"{n} of {n} configuration{plural} identical."
    counts = [f"{d.count(v)} {v.value}" for v in DiffVerdict if d.count(v)]
    matched = f"Of {n} matched configuration{plural}: {', '.join(counts)}" if n else "None matched"
    return matched + (f"; {', '.join(unmatched)}." if unmatched else ".")


def diff_text(d: SweepDiff) -> str:
    """The plain-text summary: the two sides, environment differences first, then settings, then
    the table of matched configurations (accuracies in %, differences in points), the unmatched
    ones, the notes and a one-line count."""
    lines = [f"A: {d.a.path} ({side_text(d.a)})", f"B: {d.b.path} ({side_text(d.b)})", ""]
    lines.append(environment_sentence(d.environment))
    if d.environment.changes:
        lines.append(indented(text_table([[c.what, c.a, "->", c.b] for c in d.environment.changes])))
    lines.append("")
    if d.settings:
        lines.append("Settings that differ (A -> B):")
        lines.append(indented(text_table([[c.where, c.key, c.a, "->", c.b] for c in d.settings])))
    else:
        lines.append("Settings: the same (task overrides, sweeper settings and every resolved setting).")
    lines += ["", match_sentence(d)]
    if d.pairs:
        lines.append(
            "val: mean best validation accuracy over seeds (%); test: mean test accuracy (%); B-A in points "
            "with its 95% interval."
        )
        lines.append(text_table([COLUMNS, *(pair_row(p) for p in d.pairs)]))
    lines += unmatched_lines(d, most=MAX_LISTED)
    said = notes(d)
    if said:
        lines += ["", "Notes:", *(f"  {n}" for n in said)]
    return "\n".join([*lines, "", summary(d)]) + "\n"


def indented(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def mean_curve(configuration: Configuration) -> np.ndarray:
    """``(epochs,)``: validation accuracy per epoch, the mean over the configuration's seeds."""
    curves = [[r.val_acc for r in run.curve] for run in configuration.runs if run.curve]
    if not curves:
        return np.empty(0)
    matrix = np.full((len(curves), max(map(len, curves))), np.nan)
    for i, curve in enumerate(curves):
        matrix[i, : len(curve)] = curve
    return mean_interval(matrix)[0]


def render_curves(d: SweepDiff, path: Path) -> Path:
    """Validation accuracy per epoch of every matched configuration, A solid and B dashed in one
    colour per configuration (the mean over seeds): identical ones lie on top of each other."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colours = plt.get_cmap("tab10" if len(d.pairs) <= 10 else "tab20" if len(d.pairs) <= 20 else "viridis")
    for i, pair in enumerate(d.pairs):
        colour = colours(i if len(d.pairs) <= 20 else i / max(len(d.pairs) - 1, 1))
        for configuration, style in ((pair.a, "-"), (pair.b, "--")):
            curve = mean_curve(configuration)
            label = configuration_name(pair.a) if style == "-" and i < MAX_LEGEND else None
            ax.plot(np.arange(1, curve.size + 1), 100 * curve, style, color=colour, linewidth=1.5, label=label)
    ax.plot([], [], "-", color="#444444", label="A (solid)")
    ax.plot([], [], "--", color="#444444", label="B (dashed)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%), mean over seeds")
    ax.set_title(f"A solid, B dashed: {len(d.pairs)} matched configuration{'s' if len(d.pairs) != 1 else ''}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return save(fig, path)


def html_table(rows: list[list[str]], header: list[str], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        f"<tr{f' class={chr(34)}{classes[i]}{chr(34)}' if classes else ''}>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


PAGE_STYLE = """
tr.identical td:last-child { color: #2a7f3f; } tr.different td:last-child { color: #b00020; font-weight: bold; }
tr.undecided td:last-child { color: #7a5b00; } .summary { font-size: 1.15em; font-weight: bold; }
"""


def write_page(d: SweepDiff, out: Path) -> Path:
    """``out/index.html`` and ``out/curves.png``; returns the page's path."""
    p = [
        "<h1>nnsweep diff</h1>",
        f"<p>A: {html.escape(str(d.a.path))} ({side_text(d.a)})<br>B: {html.escape(str(d.b.path))} "
        f"({side_text(d.b)})</p>",
        f'<p class="summary">{html.escape(summary(d))}</p>',
        "<h2>Environment</h2>",
        f"<p>{html.escape(environment_sentence(d.environment))}</p>",
    ]
    if d.environment.changes:
        p.append(html_table([[c.what, c.a, c.b] for c in d.environment.changes], ["", "A", "B"]))
    p.append("<h2>Settings</h2>")
    if d.settings:
        p.append(html_table([[c.where, c.key, c.a, c.b] for c in d.settings], ["from", "setting", "A", "B"]))
    else:
        p.append("<p>The same: task overrides, sweeper settings and every resolved setting.</p>")
    p += ["<h2>Configurations</h2>", f"<p>{html.escape(match_sentence(d))}</p>"]
    if d.pairs:
        classes = [pair.verdict.name.lower() for pair in d.pairs]
        p.append(html_table([pair_row(pair) for pair in d.pairs], COLUMNS, classes))
        p.append(
            '<p class="note">val: mean best validation accuracy over seeds (%); test: mean test accuracy (%); '
            "B-A in points with its 95% interval (paired by seed where seeds are shared, else Welch's t).</p>"
        )
    p += [f"<p>{html.escape(line)}</p>" for line in unmatched_lines(d)]
    said = notes(d)
    if said:
        p.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in said) + "</ul>")
    if d.pairs:
        render_curves(d, out / CURVES)
        caption = "Validation accuracy per epoch, mean over seeds: A solid, B dashed, one colour per configuration."
        p.append(f'<figure><img src="{CURVES}" alt="{caption}"><figcaption>{caption}</figcaption></figure>')
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>nnsweep diff</title>'
        f"<style>{STYLE}{PAGE_STYLE}</style></head>\n<body>\n" + "\n".join(p) + f"\n<script>{CHECK_IMAGES}</script>\n"
        "</body></html>\n"
    )
    path = out / "index.html"
    atomic_write_text(path, page)
    return path
