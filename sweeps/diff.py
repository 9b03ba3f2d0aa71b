"""What differs between two sweeps (or two runs), and whether it is more than seed noise (``nnsweep
diff A B``; ``nnsweep.reports.diff`` says it as text and a page), in the order a difference is
likeliest explained: 1. the environment (another NumPy, BLAS kernel or CPU sums float32 in another
order, so the last bits of every number change before any setting does); 2. the settings: task
overrides and sweeper settings (``multirun.yaml``) and every run's resolved config, bookkeeping and
labels left out; 3. the configurations (a run's resolved config minus its seed; a seed trained twice
counted once, as ``nnsweep.sweeps.collect`` counts it), matched across the two by the settings the
sweeps vary, so that "the same sweep with optimizer=momentum" pairs each rate with its own, and
judged by ``nnsweep.sweeps.comparison``'s rules (paired by seed; Welch's t when no seed is shared),
identical only when every seed's curve and weights are the same bits (``DiffVerdict``).
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from enum import Enum
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from nnsweep.core.errors import NnsweepError
from nnsweep.nets.train import EpochRecord
from nnsweep.runrecord import BOOKKEEPING_KEYS, LABEL_KEYS
from nnsweep.runrecord.environment import Environment
from nnsweep.runrecord.names import ADDED_KEYS
from nnsweep.sweeps import comparison as seed_statistics
from nnsweep.sweeps.comparison import ACCURACY, MIN_SEEDS, Candidate, Comparison, Interval, Verdict

ABSENT = "(not set)"
IGNORED = frozenset((*BOOKKEEPING_KEYS, *LABEL_KEYS))
WIDE_POINTS = 5.0  # an interval holding 0 but reaching past this (points) shows no sameness: "cannot tell"
SHOWN_VALUES = 4  # a setting with more values than this is said as "11 values, 0.003 to 10"


class DiffError(NnsweepError, ValueError):
    """Two sweeps that cannot be compared as asked (the message says what to do)."""


def value_text(value: object) -> str:
    """A setting's value as comparable text: numbers by value (15 == 15.0, as YAML and CSV may
    write one), exactly (``repr``: 0.1 and 0.1000001 differ); lists and mappings by their items."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


def flat_settings(config: Mapping, added: Mapping = ADDED_KEYS) -> dict[str, str]:
    """A resolved config as ``dotted.key -> value_text``, bookkeeping left out; a key added after
    older runs were recorded reads as the value those runs had (``added``)."""
    flat = {**added, **pd.json_normalize(dict(config), sep=".").iloc[0].to_dict()} if config else {}
    return {k: value_text(v) for k, v in flat.items() if k not in IGNORED}


@dataclass(frozen=True)
class RunEntry:
    """One run as the diff sees it (``nnsweep.reports.diff`` draws its curve)."""

    name: str  # its directory, relative to its sweep
    path: Path
    seed: str | None
    settings: Mapping[str, str]  # ``flat_settings`` of its resolved config
    best_val_acc: float  # NaN: no result
    test_acc: float
    val_size: float | None  # validation digits (None: unrecorded)
    curve: tuple[EpochRecord, ...] | None  # metrics.csv; None: unreadable
    environments: tuple[Environment, ...] | None  # None: not recorded (environment.json is newer than the run)


def seed_of(run: RunEntry) -> str:
    """What a run's repeats are told apart by: its seed (its name where none is recorded)."""
    return run.seed if run.seed is not None else run.name


@dataclass(frozen=True)
class Side:
    """A or B: a collected sweep, or one run directory taken as a sweep of one run."""

    label: str  # "A" or "B"
    path: Path
    is_run: bool
    runs: tuple[RunEntry, ...]
    overrides: Mapping[str, str]  # the task's overrides (key -> value as given), bookkeeping left out
    sweeper: Mapping[str, str]  # ``hydra.sweeper`` flattened; {} for a run or a sweep without multirun.yaml
    seed_keys: tuple[str, ...]  # the settings its repeats differ in (``nnsweep.sweeps.collect.repeat_keys``)


@dataclass(frozen=True)
class SettingChange:
    """A setting whose value differs: ``where`` is "override", "sweeper" or "config"."""

    where: str
    key: str
    a: str
    b: str


def value_order(value: str) -> tuple:
    """A setting's ``value_text`` as a sort key: numbers (and lists of numbers: ``[16, 8]``) in
    numeric order, before anything else in text order."""
    try:
        return (0, tuple(float(v) for v in value.strip("[]").split(", ")), value)
    except ValueError:
        return (1, (), value)


def values_text(values: Sequence[str]) -> str:
    """The distinct values a setting takes in a side: "0.1", or "11 values, 0.003 to 10"."""
    values = sorted(set(values), key=value_order)
    if len(values) <= SHOWN_VALUES:
        return ", ".join(values)
    return f"{len(values)} values, {values[0]} to {values[-1]}"


def setting_changes(a: Side, b: Side) -> list[SettingChange]:
    """The overrides, sweeper settings and resolved settings that differ, in that order."""
    changes = []
    for where, first, second in (("override", a.overrides, b.overrides), ("sweeper", a.sweeper, b.sweeper)):
        if where == "sweeper" and not (first and second):
            continue  # a run, or a sweep recorded without multirun.yaml: no sweeper to compare
        for key in sorted(first.keys() | second.keys()):
            if first.get(key) != second.get(key):
                changes.append(SettingChange(where, key, first.get(key, ABSENT), second.get(key, ABSENT)))
    values = [{k: [r.settings.get(k, ABSENT) for r in side.runs] for k in keys_of(side)} for side in (a, b)]
    for key in sorted(values[0].keys() | values[1].keys()):
        texts = [values_text(v.get(key, [ABSENT])) for v in values]
        if set(values[0].get(key, [ABSENT])) != set(values[1].get(key, [ABSENT])):
            changes.append(SettingChange("config", key, *texts))
    return changes


def keys_of(side: Side) -> set[str]:
    return set().union(*(r.settings.keys() for r in side.runs))


@dataclass(frozen=True)
class EnvironmentChange:
    what: str  # "numpy", "BLAS", "Python", "CPU" ...
    a: str
    b: str


@dataclass(frozen=True)
class EnvironmentDiff:
    changes: tuple[EnvironmentChange, ...]
    unrecorded: tuple[int, int]  # runs of A, of B without an environment record
    runs: tuple[int, int]

    @property
    def comparable(self) -> bool:  # both sides have a recorded environment
        return all(u < n for u, n in zip(self.unrecorded, self.runs))


def environment_aspects(environments: Sequence[Environment]) -> dict[str, set[str]]:
    """What each aspect of the environments of one side's runs was (every distinct value), the
    packages first: another NumPy is the likeliest cause of a different last digit."""
    aspects: dict[str, set[str]] = {}
    for env in environments:
        for name, version in env.packages.items():
            aspects.setdefault(name, set()).add(version or "not installed")
        blas = "; ".join(
            " ".join(filter(None, (b.library, b.version, f"({b.kernels})" if b.kernels else None))) for b in env.blas
        )
        for what, value in (
            ("BLAS", blas or "none found"),
            ("Python", env.python),
            ("CPU", env.cpu or "unknown"),
            ("platform", env.platform),
            ("nnsweep", env.nnsweep or "not installed"),
            ("nnsweep commit", (env.commit or "none (installed)")[:12]),
        ):
            aspects.setdefault(what, set()).add(value)
    return aspects


def environment_diff(a: Side, b: Side) -> EnvironmentDiff:
    """The aspects of the environments that differ between the sides (every environment any of
    a side's runs was trained under: a resumed run may have several)."""
    aspects = [environment_aspects([e for r in side.runs for e in (r.environments or ())]) for side in (a, b)]
    changes = []
    if aspects[0] and aspects[1]:
        for what in [*aspects[0], *(k for k in aspects[1] if k not in aspects[0])]:
            texts = [values_text(sorted(side.get(what, {ABSENT}))) for side in aspects]
            if texts[0] != texts[1]:
                changes.append(EnvironmentChange(what, *texts))
    unrecorded = tuple(sum(r.environments is None for r in side.runs) for side in (a, b))
    return EnvironmentDiff(tuple(changes), unrecorded, (len(a.runs), len(b.runs)))


@dataclass(frozen=True)
class Setting:
    key: str
    value: str


@dataclass(frozen=True)
class Configuration:
    """The runs of one side that share every setting but the seed, one per seed."""

    settings: tuple[Setting, ...]  # the matched settings' values: its name
    runs: tuple[RunEntry, ...]

    def per_seed(self, metric: str) -> dict[str, float]:
        return {seed_of(r): getattr(r, metric) for r in self.runs}

    def candidate(self, label: str, metric: str) -> Candidate:
        sizes = [r.val_size for r in self.runs if r.val_size]
        return Candidate(label, self.per_seed(metric), min(sizes) if sizes else None)


def varying_keys(side: Side) -> set[str]:
    """The settings (seed aside) whose value differs between runs of ``side``."""
    keys = keys_of(side) - set(side.seed_keys)
    return {k for k in keys if len({r.settings.get(k, ABSENT) for r in side.runs}) > 1}


def resolve_keys(names: Sequence[str], a: Side, b: Side) -> tuple[str, ...]:
    """The settings ``--match`` names: a dotted key as the configs have it, or its last part
    when that is one key's only ("lr" is ``optimizer.lr``, "hidden" is ``net.hidden``)."""
    known = keys_of(a) | keys_of(b)
    keys = []
    for name in names:
        found = [name] if name in known else sorted(k for k in known if k.rsplit(".", 1)[-1] == name)
        if len(found) != 1:
            varied = ", ".join(sorted(varying_keys(a) | varying_keys(b))) or "none"
            why = "is no setting of either" if not found else f"could be {' or '.join(found)}"
            raise DiffError(f"--match {name} {why}; name a setting by its dotted key (the sweeps vary: {varied})")
        keys.append(found[0])
    return tuple(dict.fromkeys(keys))


def configurations(side: Side, keys: Sequence[str]) -> dict[tuple[str, ...], Configuration]:
    """The side's runs grouped by the values of ``keys``; each group must be one configuration
    (its runs differ in the seed only), else ``--match`` left out a setting the side varies."""
    groups: dict[tuple[str, ...], list[RunEntry]] = {}
    for run in sorted(side.runs, key=lambda r: r.name):
        groups.setdefault(tuple(run.settings.get(k, ABSENT) for k in keys), []).append(run)
    left_out = sorted(varying_keys(side) - set(keys))
    found = {}
    for values, runs in groups.items():
        differ = [k for k in left_out if len({r.settings.get(k, ABSENT) for r in runs}) > 1]
        if differ:
            raise DiffError(
                f"{side.label} ({side.path}) has runs with the same {', '.join(keys) or 'settings'} that differ in "
                f"{', '.join(differ)}; add {'them' if len(differ) > 1 else 'it'} to --match"
            )
        seeds = {}
        for run in runs:  # a seed trained twice counts once, as collect counts it
            seeds.setdefault(seed_of(run), run)
        found[values] = Configuration(tuple(Setting(k, v) for k, v in zip(keys, values)), tuple(seeds.values()))
    return found


class DiffVerdict(Enum):
    """What may be said of a configuration in A against the same in B (the seed rules decide the last three)."""

    IDENTICAL = "identical"  # every seed's curve and weights the same bits, the same seeds
    SAME = "same within noise"  # the difference's interval includes 0, or stays within the resolution
    DIFFERENT = "different"  # the interval lies beyond 0 by a validation digit: more than seed noise
    UNDECIDED = "cannot tell"  # too few seeds, no spread, or no result: the data support no verdict


@dataclass(frozen=True)
class MetricDifference:
    """One metric of a matched configuration: its mean over seeds in A and in B (fractions) and
    B - A in points, with its interval where the seeds allow one (``comparison``, else None)."""

    metric: str
    a: Interval
    b: Interval
    comparison: Comparison | None

    @property
    def points(self) -> float:
        """B - A in points: the mean of the paired differences, else the difference of the means."""
        if self.comparison is not None and math.isfinite(self.comparison.difference.mean):
            return self.comparison.difference.mean
        return 100 * (self.b.mean - self.a.mean)


def metric_difference(a: Configuration, b: Configuration, metric: str) -> MetricDifference:
    """B - A of ``metric``: paired by seed when two or more seeds are shared (``compare``), else
    unpaired when each side has two or more (``compare_unpaired``), else no interval."""
    first, second = b.candidate("B", metric), a.candidate("A", metric)
    finite = [{s for s, v in c.per_seed.items() if np.isfinite(v)} for c in (first, second)]
    if len(finite[0] & finite[1]) >= 2:
        comparison = seed_statistics.compare(first, second)
    elif min(len(f) for f in finite) >= 2:
        comparison = seed_statistics.compare_unpaired(first, second)
    else:
        comparison = None
    means = [Interval.of(list(c.per_seed.values()), ACCURACY) for c in (second, first)]
    return MetricDifference(metric, means[0], means[1], comparison)


@dataclass(frozen=True)
class MatchedPair:
    a: Configuration
    b: Configuration
    val: MetricDifference  # best validation accuracy: the verdict's
    test: MetricDifference
    identical: bool
    verdict: DiffVerdict
    reason: str  # why, in the words of ``comparison.Verdict`` where it decided


def judged(val: MetricDifference, identical: bool) -> tuple[DiffVerdict, str]:
    """The verdict of a pair and its reason."""
    if identical:
        return DiffVerdict.IDENTICAL, "same bits"
    comparison = val.comparison
    if comparison is None:
        no_result = not (math.isfinite(val.a.mean) and math.isfinite(val.b.mean))
        return DiffVerdict.UNDECIDED, "no result" if no_result else Verdict.TOO_FEW_SEEDS.value
    d = comparison.difference
    if comparison.verdict is Verdict.BETTER:
        return DiffVerdict.DIFFERENT, comparison.verdict.value
    if comparison.verdict in (Verdict.NOISE, Verdict.BELOW_RESOLUTION):
        if max(abs(d.low), abs(d.high)) > WIDE_POINTS:  # seeds that disagree (one diverged): not "same"
            return DiffVerdict.UNDECIDED, f"{d.low:.1f} to {d.high:.1f} points could hide a large difference"
        return DiffVerdict.SAME, comparison.verdict.value
    if comparison.verdict is Verdict.NO_SPREAD and comparison.unpaired is None and d.n >= MIN_SEEDS:
        if abs(d.mean) < 1e-9:  # the same accuracy on each of three or more paired seeds: nothing differs
            return DiffVerdict.SAME, "the same on each seed"
    return DiffVerdict.UNDECIDED, comparison.verdict.value


def same_curve(a: Sequence[EpochRecord] | None, b: Sequence[EpochRecord] | None) -> bool:
    """Every number of two metrics.csv files but the wall time (``seconds``), NaN equal to NaN."""
    if a is None or b is None or len(a) != len(b):
        return False
    rows = [np.array([astuple(r)[:-1] for r in curve], dtype=float).reshape(len(curve), -1) for curve in (a, b)]
    return bool(np.array_equal(rows[0], rows[1], equal_nan=True))


def same_weights(a: Path, b: Path) -> bool:
    """The checkpoints of two runs hold the same arrays, bit for bit (weights, best weights,
    optimizer state; not the zip's bytes, which carry times). Two runs without one show nothing
    the same: "identical" promises the weights."""
    from nnsweep.nets.checkpoint import CheckpointError, load_checkpoint
    from nnsweep.runrecord import MODEL

    if not all((p / MODEL).is_file() for p in (a, b)):
        return False
    try:
        first, second = (load_checkpoint(p / MODEL) for p in (a, b))
    except CheckpointError:
        return False  # a damaged checkpoint shows nothing the same; the run's own commands name it
    for group in ("params", "optimizer_state", "best_params"):
        x, y = getattr(first, group), getattr(second, group)
        if x.keys() != y.keys():
            return False
        for key in x:
            if x[key].dtype != y[key].dtype or x[key].shape != y[key].shape or x[key].tobytes() != y[key].tobytes():
                return False
    return True


def identical(a: Configuration, b: Configuration) -> bool:
    """The same seeds, and each seed's runs the same curve and weights (weights read only once
    the curves agree: a checkpoint is the largest file of a run)."""
    seeds = [{seed_of(r): r for r in c.runs} for c in (a, b)]
    if seeds[0].keys() != seeds[1].keys():
        return False
    pairs = [(seeds[0][s], seeds[1][s]) for s in seeds[0]]
    return all(same_curve(x.curve, y.curve) for x, y in pairs) and all(same_weights(x.path, y.path) for x, y in pairs)


def matched_pair(a: Configuration, b: Configuration) -> MatchedPair:
    val, test = (metric_difference(a, b, m) for m in ("best_val_acc", "test_acc"))
    same = identical(a, b)
    return MatchedPair(a, b, val, test, same, *judged(val, same))


@dataclass(frozen=True)
class SweepDiff:
    a: Side
    b: Side
    environment: EnvironmentDiff
    settings: tuple[SettingChange, ...]
    match_keys: tuple[str, ...]
    keys_given: bool  # named with --match (else: the settings the sweeps vary)
    pairs: tuple[MatchedPair, ...]
    only_a: tuple[Configuration, ...]
    only_b: tuple[Configuration, ...]

    def count(self, verdict: DiffVerdict) -> int:
        return sum(p.verdict is verdict for p in self.pairs)


def diff(a: Side, b: Side, match: Sequence[str] | None = None) -> SweepDiff:
    """A against B: their environments, settings, and every configuration matched by ``match``
    (setting names, see ``resolve_keys``; None: the settings either side varies)."""
    if not a.runs or not b.runs:
        empty = a if not a.runs else b
        raise DiffError(f"{empty.label} ({empty.path}) has no run with a readable record to compare")
    keys = resolve_keys(match, a, b) if match else tuple(sorted(varying_keys(a) | varying_keys(b)))
    found = [configurations(side, keys) for side in (a, b)]

    def in_order(names: set[tuple[str, ...]]) -> list[tuple[str, ...]]:
        return sorted(names, key=lambda values: tuple(map(value_order, values)))

    pairs = tuple(matched_pair(found[0][k], found[1][k]) for k in in_order(found[0].keys() & found[1].keys()))
    only_a, only_b = (tuple(f[k] for k in in_order(f.keys() - g.keys())) for f, g in (found, found[::-1]))
    return SweepDiff(
        a, b, environment_diff(a, b), tuple(setting_changes(a, b)), keys, bool(match), pairs, only_a, only_b
    )
