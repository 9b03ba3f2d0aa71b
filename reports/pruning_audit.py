"""Can pruning be trusted on this sweep? ``nnsweep audit-pruning <sweep dir>`` prints the answer, and
the report draws it (``audit_figures``): how well each epoch's ranks predict the final ones, and
what successive halving with each ``min_epochs`` x ``reduction_factor`` would have cost and lost,
replayed from the record (``nnsweep.sweeps.audit``: nothing is trained).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from nnsweep.core.objectives import OBJECTIVE_NAMES
from nnsweep.experiments.cli import run_command
from nnsweep.experiments.startup import program_name
from nnsweep.reports.html import Figure
from nnsweep.reports.style import plt, save
from nnsweep.reports.tables import SweepTables, load_tables
from nnsweep.sweeps.audit import (
    MIN_EPOCHS_CHOICES,
    MIN_TRIALS,
    REDUCTION_FACTORS,
    TRUSTED_RHO,
    AuditError,
    PrunerReplay,
    RankCorrelation,
    SweepCurves,
    audit,
    load_curves,
    rank_correlations,
    trusted_from,
)
from nnsweep.sweeps.trials import TrialLogError


def lost_text(sweep: SweepCurves, lost: float) -> str:
    if math.isnan(lost):
        return "n/a"
    if lost == 0:
        return "nothing"
    if not sweep.objective.endswith("acc"):
        return f"{lost:.4g}"
    digits = f" ({lost / sweep.one_digit:.0f} validation digit{'s' if lost > 1.5 * sweep.one_digit else ''})"
    return f"{100 * lost:.2f} points" + (digits if sweep.one_digit else "")


def correlation_sentence(correlations: list[RankCorrelation], sweep: SweepCurves) -> str:
    if not correlations:
        return (
            f"Early ranks: not estimated; it takes at least {MIN_TRIALS} trials with values at an epoch and at their "
            f"end (this sweep has {len(sweep.trials)})."
        )
    start = trusted_from(correlations)
    first = correlations[0]
    said = (
        f"Early ranks: after epoch {first.epoch} the trials' ranks agree with their final ranks with Spearman's rho "
        f"{first.rho:.2f} (95% interval {first.low:.2f} to {first.high:.2f}, {first.trials} trials)"
    )
    if start is None:
        return said + f"; at no epoch before the last is the lower bound {TRUSTED_RHO} or more for good."
    at = next(c for c in correlations if c.epoch == start)
    return (
        said + f"; from epoch {start} on, every lower bound is at least {TRUSTED_RHO} (there rho {at.rho:.2f}, "
        f"{at.low:.2f} to {at.high:.2f}): ranks from then on can be trusted."
    )


def audit_rows(sweep: SweepCurves, replays: list[PrunerReplay]) -> list[list[str]]:
    """The audit as a table: a header row, then one row per pruner setting."""
    rows = [["min_epochs", "reduction_factor", "epochs trained", "keeps the winner", "top 3 kept", "best lost"]]
    for r in replays:
        rows.append(
            [
                str(r.pruner.min_epochs),
                str(r.pruner.reduction_factor),
                f"{r.epochs_trained} of {r.epochs_unpruned} ({r.share:.0%})",
                "yes" if r.winner_kept else "no",
                f"{r.top3_kept} of {min(3, len(sweep.trials))}",
                lost_text(sweep, r.lost),
            ]
        )
    return rows


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def replay_sentence(sweep: SweepCurves, replays: list[PrunerReplay], trusted: int | None = None) -> str:
    """The cheapest setting that keeps the winner (or that none does), what that rests on, and
    the cheapest that loses at most one validation digit. ``trusted``: the epoch from which early
    ranks can be trusted (``trusted_from``), None if never."""
    keeping = sorted((r for r in replays if r.winner_kept), key=lambda r: r.share)
    scope = f"Successive halving replayed on these {len(sweep.trials)} trials ({sweep.batch_size} new a round)"
    if not keeping:
        said = f"{scope}: no setting tried keeps the winner."
    else:
        r = keeping[0]
        said = (
            f"{scope}: the cheapest that keeps the winner is min_epochs={r.pruner.min_epochs}, "
            f"reduction_factor={r.pruner.reduction_factor}, with {r.share:.0%} of the epochs "
            f"({r.top3_kept} of the top 3 kept)"
        )
        if trusted is None or r.pruner.min_epochs < trusted:
            when = "at no epoch" if trusted is None else f"before epoch {trusted}"
            said += f"; but ranks {when} are not trusted here, so that it kept the winner may be luck"
        said += "."
    # Lost by one digit: a difference no measurement on this validation set shows (a seed moves more).
    tied = sorted((r for r in replays if sweep.one_digit and r.lost <= sweep.one_digit + 1e-12), key=lambda r: r.share)
    if tied and (not keeping or tied[0].share < keeping[0].share):
        r = tied[0]
        said += (
            f" Losing at most one validation digit (the smallest difference this validation set can show): "
            f"min_epochs={r.pruner.min_epochs}, reduction_factor={r.pruner.reduction_factor}, {r.share:.0%} of the "
            "epochs."
        )
    return said + (
        " One seed per trial: a winner ahead by a few validation digits may be another seed's loser, so read "
        "'keeps the winner' and 'best lost' as the replay of this record, not as a property of the pruner."
    )


def render_rank_correlation(correlations: list[RankCorrelation], sweep: SweepCurves, path: Path) -> Path:
    epochs = [c.epoch for c in correlations]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.fill_between(epochs, [c.low for c in correlations], [c.high for c in correlations], alpha=0.25, label="95%")
    ax.plot(epochs, [c.rho for c in correlations], "o-", label="Spearman's rho")
    trusted = f"trusted: lower bound >= {TRUSTED_RHO}"
    ax.axhline(TRUSTED_RHO, color="#707070", linestyle="--", linewidth=1, label=trusted)
    start = trusted_from(correlations)
    if start is not None:
        ax.axvline(start, color="#2a7f3f", linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("rank correlation with the final objective")
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"Do early epochs rank the {len(sweep.trials)} trials as the last one does?")
    ax.legend(loc="lower right")
    return save(fig, path)


def render_replays(replays: list[PrunerReplay], sweep: SweepCurves, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    scale = 100 if sweep.objective.endswith("acc") else 1
    for r in replays:
        colour = "#2a7f3f" if r.winner_kept else "#b00020"
        ax.scatter(100 * r.share, scale * r.lost, color=colour, marker="o" if r.winner_kept else "X", s=50)
        ax.annotate(
            f"{r.pruner.min_epochs}/{r.pruner.reduction_factor}",
            (100 * r.share, scale * r.lost),
            textcoords="offset points",
            xytext=(5, 3),
            fontsize=8,
        )
    if sweep.one_digit:
        ax.axhspan(0, scale * sweep.one_digit, color="#d0d0d0", alpha=0.5, label="within one validation digit")
        ax.legend(loc="upper right")
    ax.set_xlabel("epochs trained, % of the unpruned sweep")
    ax.set_ylabel("best objective lost" + (" (points)" if scale == 100 else ""))
    ax.set_title("Successive halving replayed (labels: min_epochs/reduction_factor)")
    return save(fig, path)


def audit_figures(tables: SweepTables, out: Path, notes: list[str]) -> list[Figure]:
    """The report's section: the rank correlation and the replays, for an unpruned sweep of
    enough trials and epochs (a pruned one has no later epochs for its pruned trials)."""
    try:
        sweep = load_curves(tables.sweep_dir, tables.runs, tables.epochs)
    except TrialLogError:  # the search's section names the damaged log
        return []
    except AuditError as err:
        notes.append(f"No pruning audit: {err}")
        return []
    if sweep.max_epochs < 2 or len(sweep.trials) < 2 or sweep.pruned_already:
        return []
    figures = []
    correlations = rank_correlations(sweep)
    notes.append(correlation_sentence(correlations, sweep))
    if correlations:
        render_rank_correlation(correlations, sweep, out / "rank_correlation.png")
        figures.append(
            Figure(
                "rank_correlation.png",
                "How far each epoch's ranking of the trials (by the objective so far) predicts the final "
                "ranking: Spearman's rho with its 95% interval (Fisher's z, standard error 1.06/sqrt(n-3)).",
            )
        )
    replays = audit(sweep)
    notes.append(replay_sentence(sweep, replays, trusted_from(correlations)))
    render_replays(replays, sweep, out / "pruning_replay.png")
    figures.append(
        Figure(
            "pruning_replay.png",
            "What successive halving would have done to this sweep, replayed from its record with the "
            "sweeper's own rule: the share of epochs it trains and the best objective it loses (green dots: "
            "it keeps the winner; red crosses: it prunes it). nnsweep audit-pruning prints the table.",
        )
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.reports.pruning_audit"),
        description="Can pruning be trusted on a finished, unpruned sweep? From its epochs.csv alone: how well "
        "each epoch's ranks predict the final ones, and successive halving replayed with other min_epochs and "
        "reduction_factor (the share of epochs each trains, whether it keeps the winner and the top 3).",
    )
    parser.add_argument("sweep_dir", help="a collected sweep directory (runs.csv, epochs.csv)")
    parser.add_argument("--min-epochs", default=",".join(map(str, MIN_EPOCHS_CHOICES)), help="comma-separated")
    parser.add_argument("--reduction-factors", default=",".join(map(str, REDUCTION_FACTORS)), help="comma-separated")
    args = parser.parse_args(argv)
    min_epochs, factors = (
        counts(parser, "--min-epochs", args.min_epochs, 1),
        counts(parser, "--reduction-factors", args.reduction_factors, 2),
    )
    tables = load_tables(args.sweep_dir)
    sweep = load_curves(tables.sweep_dir, tables.runs, tables.epochs)
    replays = audit(sweep, min_epochs, factors)
    name = OBJECTIVE_NAMES.get(sweep.objective, sweep.objective)
    print(f"{tables.sweep_dir}: {len(sweep.trials)} trials, {sweep.max_epochs} epochs, objective: {name}")
    correlations = rank_correlations(sweep)
    print(correlation_sentence(correlations, sweep))
    if replays:
        print(text_table(audit_rows(sweep, replays)))
        print(replay_sentence(sweep, replays, trusted_from(correlations)))
    else:
        print(f"No setting leaves an epoch to prune: every min_epochs is at least the {sweep.max_epochs} epochs.")
    return 0


def counts(parser: argparse.ArgumentParser, option: str, text: str, least: int) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < least:
        parser.error(f"{option} takes whole numbers of at least {least}, comma-separated; got {text!r}")
    return values


def command() -> None:
    """``nnsweep audit-pruning``."""
    run_command(main)


if __name__ == "__main__":
    command()
