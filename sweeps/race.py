"""Seed racing: seeds spent only where the answer is still open (``hydra.sweeper.repeats=race``,
``nnsweep sweep-lr --race``).

Every configuration starts with ``START_SEEDS`` seeds. After each round the leader is the
configuration with the best mean, and every other one is compared with it seed by seed
(``nnsweep.sweeps.comparison.compare``: the paired t interval of the difference, in points, and
the validation set's resolution). A configuration behind the leader by more than seed noise is
*separated* and gets no more seeds; one still within noise gets one more seed, and so does the
leader (a paired comparison needs the leader's run of that seed), up to ``max_seeds``. The race
ends when no configuration is open: the leader is the *winner* if it is separated from every
other one, else the configurations left within noise of it at ``max_seeds`` are *tied* with it.
(Maron and Moore's Hoeffding races, 1994, and Birattari's F-race, 2002, spend trials the same way.)

Two choices, each for a reason:

- **Elimination from two seeds.** The paired t interval with one degree of freedom (t = 12.7) is
  wide, but its coverage holds for two seeds as for ten, so a configuration far behind is let go
  after two: waiting for ``MIN_SEEDS`` would train a third seed of every configuration, more than
  half the runs of five seeds everywhere. A difference of no spread (the seeds agree to the
  digit) still gives no verdict, and the *winner* must lead its closest rival over
  ``MIN_SEEDS`` seeds at least, as every verdict nnsweep states does.
- **Several comparisons at once.** The winner is separated from each other configuration at 95%;
  the chance that all of them hold is lower. ``make bench-race`` measures the race where every
  configuration is equal (how often it names a winner that is none) beside recorded sweeps.

A failed or diverged seed takes its configuration out of the race (a trial is as good as its worst
seed, as with repeats: ``nnsweep.sweeps.repeats``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Collection, Mapping, Sequence

from nnsweep.sweeps.comparison import MIN_SEEDS, Candidate, Comparison, Verdict, compare
from nnsweep.sweeps.search_space import format_value
from nnsweep.sweeps.trials import Trial

RACE = "race"  # hydra.sweeper.repeats=race
START_SEEDS = 2
DEFAULT_MAX_SEEDS = 5


class Standing(Enum):
    """Where a configuration stands against the leader after a round."""

    LEADER = "leader"
    SEPARATED = "behind the leader by more than seed noise"
    OPEN = "within seed noise of the leader: one more seed"
    TIED = "within seed noise of the leader at the most seeds"
    FAILED = "a seed failed or diverged"


@dataclass(frozen=True)
class Entry:
    """One configuration in the race: its value per seed (None: that seed failed or diverged)."""

    name: str
    per_seed: Mapping[int, float | None]

    @property
    def failed(self) -> bool:
        """A seed without a value (failed, diverged), or no seed at all: out of the race."""
        return not self.per_seed or any(v is None or not math.isfinite(v) for v in self.per_seed.values())

    @property
    def mean(self) -> float:
        return sum(self.per_seed.values()) / len(self.per_seed)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RaceState:
    """The race after a round: each configuration's standing, the leader against each other one,
    and the seeds each open configuration (and the leader) should have after the next round."""

    leader: str | None
    standings: dict[str, Standing]
    comparisons: dict[str, Comparison]  # the leader minus each other configuration
    wanted: dict[str, int] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)

    @property
    def decided(self) -> bool:
        return not self.wanted

    @property
    def winner(self) -> str | None:
        """The leader, once the race is decided and it is separated from every other configuration
        (at least one), its closest rival over ``MIN_SEEDS`` seeds or more."""
        others = [n for n, s in self.standings.items() if s is not Standing.LEADER]
        separated = [n for n in others if self.standings[n] is Standing.SEPARATED]
        if not self.decided or self.leader is None or not separated:
            return None
        if any(self.standings[n] not in (Standing.SEPARATED, Standing.FAILED) for n in others):
            return None
        closest = min(separated, key=lambda n: self.comparisons[n].difference.mean)
        return self.leader if self.comparisons[closest].difference.n >= MIN_SEEDS else None

    @property
    def tied(self) -> list[str]:
        return [n for n, s in self.standings.items() if s in (Standing.TIED, Standing.OPEN)]

    def sentence(self) -> str:
        """The race's decision and what it rests on, for the report and the terminal."""
        runs = sum(self.seeds.values())
        if self.leader is None:
            return f"Seed race: every configuration failed or diverged on a seed ({runs} runs); no leader."
        said = f"Seed race ({runs} runs): "
        if not self.decided:
            return said + f"{self.leader} leads; still open: {', '.join(self.tied)}."
        if self.winner:
            closest = min(
                (n for n, s in self.standings.items() if s is Standing.SEPARATED),
                key=lambda n: self.comparisons[n].difference.mean,
            )
            d = self.comparisons[closest].difference
            return (
                said + f"{self.leader} wins, separated from every other configuration; the closest, {closest}, by "
                f"{d.mean:.1f} points (95% interval {d.low:.1f} to {d.high:.1f}, paired over {d.n} seeds)."
            )
        if self.tied:
            return (
                said + f"no single winner. {self.leader} leads, but {', '.join(self.tied)} "
                f"{'is' if len(self.tied) == 1 else 'are'} still within seed noise of it after "
                f"{max(self.seeds.values())} seeds: pick by another criterion, or race with more seeds."
            )
        return said + f"no winner: {self.leader} leads, but its lead rests on fewer than {MIN_SEEDS} seeds."


def configuration_name(params: Mapping[str, object]) -> str:
    """A configuration in the race's sentences, as its overrides: ``optimizer.lr=0.877``."""
    return " ".join(f"{key}={format_value(value)}" for key, value in params.items())


def entries_of(trials: Sequence[Trial], failed: Collection[int] = ()) -> list[Entry]:
    """A race's configurations from its trial log: each trial with its seeds' values (a trial in
    ``failed``, one its runs do not back, with none)."""
    return [
        Entry(configuration_name(t.params), {r.seed: None if t.number in failed else r.objective for r in t.repeats})
        for t in trials
    ]


def standings(entries: Sequence[Entry], max_seeds: int, val_size: float | None = None) -> RaceState:
    """Where each configuration stands after a round, and which get another seed."""
    seeds = {e.name: len(e.per_seed) for e in entries}
    alive = [e for e in entries if not e.failed]
    result: dict[str, Standing] = {e.name: Standing.FAILED for e in entries if e.failed}
    if not alive:
        return RaceState(None, result, {}, {}, seeds)
    leader = max(alive, key=lambda e: e.mean)  # the first of equal means
    first = Candidate(leader.name, leader.per_seed, val_size)
    comparisons, wanted = {}, {}
    result[leader.name] = Standing.LEADER
    for entry in alive:
        if entry is leader:
            continue
        comparison = compare(first, Candidate(entry.name, entry.per_seed, val_size), min_seeds=START_SEEDS)
        comparisons[entry.name] = comparison
        if comparison.verdict is Verdict.BETTER and comparison.difference.mean > 0:
            result[entry.name] = Standing.SEPARATED
        elif seeds[entry.name] < max_seeds:
            result[entry.name] = Standing.OPEN
            wanted[entry.name] = seeds[entry.name] + 1
        elif seeds[leader.name] < seeds[entry.name]:  # a rival at the most seeds waits for the leader's
            result[entry.name] = Standing.OPEN
        else:
            result[entry.name] = Standing.TIED
    separated = [n for n, c in comparisons.items() if result[n] is Standing.SEPARATED]
    if separated and len(separated) == len(comparisons):  # all behind: the winner must lead its closest rival
        closest = min(separated, key=lambda n: comparisons[n].difference.mean)  # over MIN_SEEDS paired seeds
        if comparisons[closest].difference.n < MIN_SEEDS:
            result[closest] = Standing.OPEN
            if seeds[closest] < max_seeds:
                wanted[closest] = seeds[closest] + 1
    racing = [n for n, s in result.items() if s is Standing.OPEN]
    if racing:  # the leader has every seed an open rival has or is about to get, so pairs stay pairs
        target = min(max_seeds, max(wanted.get(n, seeds[n]) for n in racing))
        if target > seeds[leader.name]:
            wanted[leader.name] = target
    ordered = {e.name: result[e.name] for e in entries}
    return RaceState(leader.name, ordered, comparisons, wanted, seeds)


def replay(
    values: Mapping[str, Sequence[float | None]],
    order: Sequence[int],
    max_seeds: int,
    val_size: float | None = None,
    start: int = START_SEEDS,
) -> RaceState:
    """The race run on recorded values (``values[name][seed]``), the seeds taken in ``order`` (a
    permutation of the recorded seeds: the k-th seed a configuration gets is ``order[k]``, the same
    for every configuration, so pairs stay paired). ``start=max_seeds``: every seed everywhere, the
    decision without racing."""
    counts = {name: start for name in values}
    while True:
        entries = [Entry(n, {k: values[n][order[k]] for k in range(counts[n])}) for n in values]
        state = standings(entries, max_seeds, val_size)
        if state.decided:
            return state
        counts.update(state.wanted)
