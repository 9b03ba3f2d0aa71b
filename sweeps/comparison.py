"""What nnsweep may say about seeds: a mean's 95% interval, and whether one configuration is
better than another. Every sentence that names a best configuration or compares two (the
report's page, the terminal) is made by ``best_statement``; configs.csv, the figures' bands and
those sentences take their intervals from ``mean_interval``.

Three rules, each for a reason:

1. **Intervals stay inside what the quantity can be.** The interval of a mean over seeds is
   Student's t (``scipy.stats.t``, n - 1 degrees of freedom: Rice, *Mathematical Statistics and
   Data Analysis*, section 7.3), then cut to the quantity's range: [0, 1] for an accuracy,
   [-100, 100] points for a difference of two. The mean accuracy over seeds lies in [0, 1], so
   cutting a confidence interval to that range never lowers its coverage (an interval that held
   the true mean still holds it) and only removes values that cannot be; the sentence says when
   it was cut. The alternatives were worse here: a logit-scale t interval is an interval for
   another average than the mean shown, and breaks on a run at exactly 100%; a Wilson or
   Clopper-Pearson interval (``scipy.stats.binomtest``) counts the validation digits as
   independent draws, but the validation set is fixed and the noise is between seeds
   (initial weights, order of examples), which a binomial interval does not see.
2. **No verdict from fewer than ``MIN_SEEDS`` seeds or from no spread.** With two seeds the
   spread is estimated from one degree of freedom (t = 12.7) and is itself a coin toss; and
   accuracy on a fixed validation set moves in whole digits (0.2 points on 500), so two or more
   seeds often agree to the digit by chance: a standard deviation of 0 is an artefact of the
   measurement, and the t interval it gives (a single point) claims a certainty nobody has.
3. **A difference smaller than the measurement can resolve is not called real.** One digit of
   the validation set is ``100 / n_val`` points. A difference is "more than seed noise" only
   when its whole interval lies beyond one digit and its mean is at least ``MIN_DIGITS`` digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Mapping, Sequence

import numpy as np

MIN_SEEDS = 3  # paired seeds a verdict needs
MIN_DIGITS = 2  # validation digits a difference must reach (its mean) to be called real
CONFIDENCE = 0.95
ACCURACY = (0.0, 1.0)
POINTS = (-100.0, 100.0)  # a difference of two accuracies, in percentage points
SAME = 1e-9  # a relative spread below this is float rounding, not seeds that differ


def t_quantile(q, df):
    """Student's t quantile (``scipy.stats.t.ppf``). SciPy's statistics are imported here, when a
    comparison is made, rather than by every command that imports this module: they take a third
    of a second to import, and most sweeps' processes never compare."""
    from scipy import stats

    return stats.t.ppf(q, df)


def mean_interval(
    samples: np.ndarray, bounds: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise mean of ``samples: (n_runs, n_cols)`` (NaN where a run has no value), its 95%
    Student t interval (mean +- t * s / sqrt(n), NaN with fewer than two values, the mean itself
    when every value is the same) cut to ``bounds`` (see the module's rule 1), and n per column:
    ``(mean, low, high, n)``, each (n_cols,)."""
    finite = np.isfinite(samples)
    n = finite.sum(axis=0)
    total = np.where(finite, samples, 0.0).sum(axis=0)
    mean = np.divide(total, n, out=np.full(n.shape, np.nan), where=n > 0)
    squares = np.where(finite, (samples - mean) ** 2, 0.0).sum(axis=0)
    sd = np.sqrt(np.divide(squares, n - 1, out=np.full(n.shape, np.nan), where=n > 1))
    half = t_quantile(0.5 + CONFIDENCE / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = np.clip(low, *bounds), np.clip(high, *bounds)
    return mean, low, high, n


def metric_bounds(metric: str) -> tuple[float, float] | None:
    """The range a metrics.csv column (or "gap" = train_acc - val_acc) can take: an accuracy
    [0, 1], the gap [-1, 1], a loss [0, inf); None for anything else."""
    if metric.endswith("acc"):
        return ACCURACY
    if metric == "gap":
        return (-1.0, 1.0)
    if metric.endswith("loss"):
        return (0.0, math.inf)
    return None


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its 95% interval (NaN with one value), cut to the quantity's
    range (``clipped``: it was)."""

    mean: float
    low: float
    high: float
    n: int
    sd: float  # NaN with one value
    clipped: bool

    @classmethod
    def of(cls, values: Sequence[float], bounds: tuple[float, float]) -> "Interval":
        array = np.asarray([v for v in values if np.isfinite(v)], dtype=float).reshape(-1, 1)
        mean, low, high, n = (float(v[0]) for v in mean_interval(array))
        sd = float(array[:, 0].std(ddof=1)) if len(array) > 1 else math.nan
        cut_low, cut_high = (float(np.clip(x, *bounds)) if np.isfinite(x) else x for x in (low, high))
        return cls(mean, cut_low, cut_high, int(n), sd, (cut_low, cut_high) != (low, high))

    @property
    def spread(self) -> bool:
        """Seeds that differ: a standard deviation above float rounding (0.950 - 0.936 and
        0.940 - 0.926 are the same 1.4 points, but not the same float)."""
        return self.n > 1 and self.sd > SAME * max(1.0, abs(self.mean))


def validation_digit(val_sizes: Sequence[float]) -> float | None:
    """One validation digit in points (100 / n_val) for runs validated on ``val_sizes`` digits:
    the coarsest of them; None when no run recorded its validation size."""
    sizes = [float(s) for s in val_sizes if s is not None and np.isfinite(s) and s > 0]
    return 100.0 / min(sizes) if sizes else None


class Verdict(Enum):
    """What a comparison of two configurations can say."""

    BETTER = "more than seed noise"
    NOISE = "the interval includes 0"
    BELOW_RESOLUTION = "within the resolution of the validation set"
    TOO_FEW_SEEDS = "too few seeds"
    NO_SPREAD = "no spread"
    NOT_PAIRED = "too few shared seeds"


@dataclass(frozen=True)
class Candidate:
    """A configuration as the comparisons see it: its name ("lr 0.5, hidden [100]"), its value
    per seed (an accuracy in [0, 1]) and the validation digits it was measured on (None:
    unknown)."""

    name: str
    per_seed: Mapping[object, float]
    val_size: float | None = None


@dataclass(frozen=True)
class Comparison:
    """``first`` minus ``second``, paired by seed, in points: their difference's interval and
    what may be said of it."""

    first: str
    second: str
    difference: Interval
    digit: float | None  # one validation digit in points
    verdict: Verdict
    unpaired: tuple[int, int] | None = None  # the seeds of each, when no seed is shared (``compare_unpaired``)

    def sentence(self) -> str:
        d, a, b = self.difference, self.first, self.second
        over = (
            f"paired over {d.n} seeds"
            if self.unpaired is None
            else f"unpaired, Welch's t over {self.unpaired[0]} and {self.unpaired[1]} seeds"
        )
        if self.verdict is Verdict.NOT_PAIRED:
            return (
                f"{a} and {b} share {d.n} seed{'s' if d.n != 1 else ''} with a value: too few to compare "
                "them seed by seed."
            )
        if _points(abs(d.mean)) == "0.0":  # a difference of 0.0 is no difference, never a lead
            if self.verdict is Verdict.NO_SPREAD and self.unpaired is None:
                return (
                    f"{a} and {b} have the same validation accuracy on each of {d.n} paired seeds: no difference "
                    "between them."
                )
            lead = f"{a} and {b} do not differ on average (less than 0.05 points of validation accuracy)"
        else:
            lead = (
                f"{a} is ahead of {b} by {_points(d.mean)}"
                if d.mean >= 0
                else f"{a} has the best mean, but trails {b} by {_points(-d.mean)}"
            )
            lead += " points of validation accuracy"
        if self.verdict is Verdict.NO_SPREAD:
            where = f"on each of {d.n} paired seeds" if self.unpaired is None else f"({over})"
            return (
                f"{lead} {where}: no spread between the seeds to measure their noise by "
                f"(the validation set counts whole digits), so no verdict; train more seeds."
            )
        interval = f"95% interval {_points(d.low)} to {_points(d.high)}{' (cut at 100)' if d.clipped else ''}"
        lead += f" ({interval}, {over})"
        if self.verdict is Verdict.TOO_FEW_SEEDS:
            return f"{lead}: {d.n} seeds are too few to tell (a verdict needs {MIN_SEEDS}); train more seeds."
        if self.verdict is Verdict.NOISE:
            return f"{lead}: the interval includes 0, so the difference may be noise."
        digit = f"one validation digit is {self.digit:.2g} points" if self.digit else ""
        if self.verdict is Verdict.BELOW_RESOLUTION:
            return (
                f"{lead}: within {MIN_DIGITS} validation digits or with an interval reaching below one ({digit}), "
                "so not called more than seed noise."
            )
        side = "above" if d.mean > 0 else "below"
        reason = (
            f"the interval lies {side} 0 by at least one validation digit ({digit})"
            if digit
            else f"the interval lies {side} 0"
        )
        if d.mean > 0:
            return f"{lead}: {reason}, so the difference is more than seed noise."
        return f"{lead}: {reason}: on the seeds both have, {b} is the better."


def compare(first: Candidate, second: Candidate, min_seeds: int = MIN_SEEDS) -> Comparison:
    """``first`` against ``second`` over the seeds both have (finite values), by the module's
    three rules (``min_seeds``: a race lets a configuration go from two, ``nnsweep.sweeps.race``)."""
    common = sorted(
        (
            s
            for s in first.per_seed.keys() & second.per_seed.keys()
            if np.isfinite(first.per_seed[s]) and np.isfinite(second.per_seed[s])
        ),
        key=str,
    )
    diffs = [100 * (first.per_seed[s] - second.per_seed[s]) for s in common]
    difference = Interval.of(diffs, POINTS)
    digit = validation_digit([first.val_size, second.val_size])
    if difference.n < 2:
        verdict = Verdict.NOT_PAIRED
    elif not difference.spread:
        verdict = Verdict.NO_SPREAD
    else:
        verdict = _judged(difference, digit, min_seeds)
    return Comparison(first.name, second.name, difference, digit, verdict)


def _judged(difference: Interval, digit: float | None, min_seeds: int = MIN_SEEDS) -> Verdict:
    """Rules 2 (the seeds' count) and 3 for a difference with spread, of at least two values."""
    if difference.n < min_seeds:
        return Verdict.TOO_FEW_SEEDS
    if difference.low <= 0 <= difference.high:
        return Verdict.NOISE
    if digit is not None and (
        abs(difference.mean) < MIN_DIGITS * digit - 1e-9
        or min(abs(difference.low), abs(difference.high)) < digit - 1e-9
    ):
        return Verdict.BELOW_RESOLUTION
    return Verdict.BETTER


def compare_unpaired(first: Candidate, second: Candidate) -> Comparison:
    """``first`` minus ``second`` when the two share no seed (two sweeps seeded apart), in points:
    Welch's t interval of the difference of their means (standard error sqrt(s1²/n1 + s2²/n2),
    Welch-Satterthwaite degrees of freedom: Welch 1947; Rice, section 11.2.1), cut to [-100, 100],
    judged by the module's three rules: no verdict with fewer than ``MIN_SEEDS`` seeds on either
    side, nor when either side has no spread (its standard deviation of 0 is an artefact of the
    whole digits, and Welch's t would take it for a certainty). The difference's ``n`` is the
    smaller side's seeds, its ``sd`` the standard error of the difference."""
    sides = [[100 * v for v in c.per_seed.values() if np.isfinite(v)] for c in (first, second)]
    counts = (len(sides[0]), len(sides[1]))
    digit = validation_digit([first.val_size, second.val_size])
    if min(counts) == 0:
        return Comparison(first.name, second.name, Interval.of([], POINTS), digit, Verdict.TOO_FEW_SEEDS, counts)
    mean = float(np.mean(sides[0]) - np.mean(sides[1]))
    shares = [np.var(s, ddof=1) / len(s) if len(s) > 1 else math.nan for s in sides]  # s² / n of each
    se = math.sqrt(sum(shares))
    spread = all(Interval.of(s, POINTS).spread for s in sides)
    low = high = math.nan
    if spread:
        df = se**4 / sum(share**2 / (n - 1) for share, n in zip(shares, counts))
        half = float(t_quantile(0.5 + CONFIDENCE / 2, df)) * se
        low, high = mean - half, mean + half
    cut_low, cut_high = (float(np.clip(x, *POINTS)) if np.isfinite(x) else x for x in (low, high))
    clipped = (cut_low, cut_high) != (low, high) and spread
    difference = Interval(mean, cut_low, cut_high, min(counts), se, clipped)
    if min(counts) < 2:
        verdict = Verdict.TOO_FEW_SEEDS
    elif not spread:
        verdict = Verdict.NO_SPREAD
    else:
        verdict = _judged(difference, digit)
    return Comparison(first.name, second.name, difference, digit, verdict, counts)


ONE_SEED = (
    "One seed per configuration: train repeats (nnsweep sweep-lr --repeats 3, or hydra.sweeper.repeats=3 in a "
    "search) to see whether the winner is real."
)


def describe_mean(candidate: Candidate) -> str:
    """A configuration's mean accuracy over its seeds with its uncertainty: "94.20% over 3 seeds,
    95% interval 93.10% to 95.30%"; the interval is withheld (and why) with one seed or no spread."""
    values = [v for v in candidate.per_seed.values() if np.isfinite(v)]
    mean = Interval.of(values, ACCURACY)
    if mean.n < 2:
        return f"{mean.mean:.2%} from one seed (no interval)"
    if not mean.spread:
        return (
            f"{mean.mean:.2%} on each of {mean.n} seeds (no spread between them, so no interval: the validation "
            "set counts whole digits)"
        )
    ends = [end for end, at in (("0%", mean.low <= 0.0), ("100%", mean.high >= 1.0)) if at and mean.clipped]
    cut = f" (cut at {' and '.join(ends)})" if ends else ""
    return f"{mean.mean:.2%} over {mean.n} seeds, 95% interval {mean.low:.2%} to {mean.high:.2%}{cut}"


def best_statement(ranked: Sequence[Candidate]) -> str | None:
    """What nnsweep says about the best configuration: ``ranked`` is the configurations best
    first (by mean). With repeats, the best by its mean with its interval, and it against the
    runner-up (``compare``); with one seed each, that no verdict can be had and how to get one;
    None with no configuration (or one configuration of one seed: nothing to say)."""
    if not ranked:
        return None
    seeds = max(sum(np.isfinite(v) for v in c.per_seed.values()) for c in ranked)
    if seeds < 2:
        return ONE_SEED if len(ranked) > 1 else None
    best = (
        f"Best configuration by mean validation accuracy: {ranked[0].name}, {describe_mean(ranked[0])} (the best "
        "single run may be a lucky seed of another)."
    )
    if len(ranked) < 2:
        return best
    return f"{best} {compare(ranked[0], ranked[1]).sentence()}"


def _points(x: float | None) -> str:
    """A difference in points to one decimal, never "-0.0"."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text
