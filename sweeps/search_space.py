"""Hydra's sweep grammar -> the dimensions of a search, for every engine (``nnsweep.sweeps.engines``).

    optimizer.lr=tag(log, interval(1e-3, 3))   -> real 0.001 .. 3, log scale
    optimizer.lr=interval(0.01, 1)             -> real 0.01 .. 1
    net.hidden.0=int(interval(10, 200))        -> integer 10 .. 200  (both ends included)
    trainer.batch_size=range(8, 65, 8)         -> choice of 8, 16, ..., 64
    trainer.epochs=range(5, 11)                -> integer 5 .. 10    (Hydra's stop is exclusive)
    optimizer=choice(sgd, adam) / sgd,adam     -> choice of "sgd", "adam"
    net.hidden=choice([16],[64])               -> choice of "[16]", "[64]"  (override text)
    trainer.epochs=10                          -> fixed for every trial

A ``Dimension`` is plain data; ``to_skopt`` and ``to_optuna`` make the engines' own objects, so
the Optuna engine never imports scikit-optimize. A grid (``grid_space``) keeps every swept value
as its override text, in the order Hydra's basic sweeper combines them.
``hydra.sweeper.params`` are read first, then the command line, so the command line wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any, Callable

from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep

from nnsweep.core.errors import NnsweepError


class SearchSpaceError(NnsweepError, ValueError):
    """A search-space entry that cannot become a dimension (e.g. low >= high)."""


@dataclass(frozen=True)
class Dimension:
    """One searched setting: ``real`` or ``int`` from ``low`` to ``high`` (both included,
    ``log``: log-uniform), or ``choice`` of ``choices`` (also a grid's values)."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple = ()

    def to_skopt(self):
        from skopt.space import Categorical, Integer, Real

        prior = "log-uniform" if self.log else "uniform"
        if self.kind == "real":
            return Real(self.low, self.high, prior=prior, name=self.name)
        if self.kind == "int":
            return Integer(self.low, self.high, prior=prior, name=self.name)
        return Categorical(list(self.choices), name=self.name)

    def to_optuna(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "real":
            return FloatDistribution(self.low, self.high, log=self.log)
        if self.kind == "int":
            return IntDistribution(self.low, self.high, log=self.log)
        return CategoricalDistribution(list(self.choices))

    def recorded_form(self) -> str:
        """The dimension as the trial log records it (a rerun must search the same space)."""
        if self.kind == "choice":
            return f"choice({list(self.choices)!r})"
        return f"{self.kind}({self.low!r}, {self.high!r}{', log' if self.log else ''})"


@dataclass
class SearchSpace:
    names: list[str]  # override keys of the searched dimensions, in order
    dimensions: list[Dimension]  # same order
    fixed: list[str]  # overrides applied to every trial, as "key=value"

    def reordered(self, names: list[str]) -> "SearchSpace":
        """The same space with its dimensions in the order of ``names`` (a permutation)."""
        where = {name: i for i, name in enumerate(self.names)}
        return SearchSpace(list(names), [self.dimensions[where[n]] for n in names], self.fixed)

    def overrides(self, point: list[Any]) -> list[str]:
        """The overrides of one trial: the fixed ones, then ``key=value`` for each dimension."""
        return self.fixed + [f"{name}={format_value(v)}" for name, v in zip(self.names, point)]


def covering_points(space: SearchSpace) -> list[list[Any]]:
    """A few points that between them give every dimension each of its values (a choice) or
    both ends (a range): point i takes each dimension's i-th value, its last once it has no
    more. Composing these checks that every value a search can propose composes, at the cost
    of ``max(values per dimension)`` compositions instead of one per trial."""
    values = [[d.low, d.high] if d.kind in ("real", "int") else list(d.choices) for d in space.dimensions]
    count = max((len(v) for v in values), default=0)
    return [[v[min(i, len(v) - 1)] for v in values] for i in range(count)]


def plain(value: Any) -> Any:
    """NumPy scalars -> Python scalars (engines return NumPy scalars), for JSON/YAML, comparisons
    and override text."""
    return value.item() if hasattr(value, "item") else value


def format_value(value: Any) -> str:
    """An override value written with ``str`` of a plain Python scalar: NumPy 2 reprs like
    ``np.float64(1e-05)`` are parse errors to Hydra."""
    return str(plain(value))


def dimension_for(override: Override) -> Dimension:
    key = override.get_key_element()
    sweep = override.value()
    if isinstance(sweep, IntervalSweep):
        low, high = sweep.start, sweep.end
        if not low < high:
            raise SearchSpaceError(f"{key}: interval low {low} must be below high {high}")
        log = "log" in (sweep.tags or set())
        if log and low <= 0:
            raise SearchSpaceError(f"{key}: a log interval needs low > 0, got {low}")
        if isinstance(low, int) and isinstance(high, int):
            return Dimension(key, "int", low, high, log)
        return Dimension(key, "real", float(low), float(high), log)
    if isinstance(sweep, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise SearchSpaceError(f"{key}: range({sweep.start}, {sweep.stop}, {sweep.step}) is empty")
        if sweep.step == 1 and all(isinstance(v, int) for v in values):
            return (
                Dimension(key, "int", values[0], values[-1])
                if len(values) > 1
                else Dimension(key, "choice", choices=tuple(values))
            )
        return Dimension(key, "choice", choices=tuple(values))
    if isinstance(sweep, ChoiceSweep):
        values = list(override.sweep_iterator())
        if len(values) < 1:
            raise SearchSpaceError(f"{key}: choice() needs at least one value")
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            # Lists and dicts (net.hidden=choice([16],[64])) are not hashable for skopt: keep
            # them as their override text, which Hydra parses back into the same value.
            values = list(override.sweep_string_iterator())
        return Dimension(key, "choice", choices=tuple(values))
    raise SearchSpaceError(f"{key}: unsupported sweep {sweep}")


def _space(overrides: list[Override], dimension: Callable[[Override], Dimension]) -> SearchSpace:
    """Swept keys become dimensions (``dimension``), the others fixed overrides; a later override
    of a key replaces an earlier one (``hydra.sweeper.params`` come first, the command line last)."""
    by_key: dict[str, Override] = {}
    for override in overrides:
        by_key[override.get_key_element()] = override
    names, dims, fixed = [], [], []
    for key, override in by_key.items():
        if override.is_sweep_override():
            names.append(key)
            dims.append(dimension(override))
        else:
            fixed.append(f"{key}={override.get_value_element_as_str()}")
    return SearchSpace(names, dims, fixed)


def build_search_space(overrides: list[Override]) -> SearchSpace:
    """Dimensions and fixed overrides from parsed overrides, for a search engine."""
    space = _space(overrides, dimension_for)
    if not space.dimensions:
        raise SearchSpaceError(
            "nothing to search: give at least one dimension, e.g. 'optimizer.lr=tag(log, interval(1e-3, 3))', "
            "on the command line or in hydra.sweeper.params"
        )
    return space


def grid_space(overrides: list[Override]) -> tuple[SearchSpace, list[list[str]]]:
    """A grid: every combination of the swept values (as override text), in the order Hydra's
    basic sweeper makes them (the first swept key varies slowest). Returns the space and its
    points; a grid without a swept key is the one point of its fixed overrides."""
    space = _space(overrides, _grid_dimension)
    return space, [list(p) for p in product(*(d.choices for d in space.dimensions))]


def _grid_dimension(override: Override) -> Dimension:
    key, values = override.get_key_element(), tuple(override.sweep_string_iterator())
    if not values:
        raise SearchSpaceError(f"{key}: the sweep has no values")
    return Dimension(key, "choice", choices=values)
