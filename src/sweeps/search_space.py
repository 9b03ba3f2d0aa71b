"""Hydra's sweep grammar -> scikit-optimize dimensions.

    optimizer.lr=tag(log, interval(1e-3, 3))   -> Real(0.001, 3, prior="log-uniform")
    optimizer.lr=interval(0.01, 1)             -> Real(0.01, 1)
    net.hidden.0=int(interval(10, 200))        -> Integer(10, 200)   (both ends included)
    trainer.batch_size=range(8, 65, 8)         -> Categorical([8, 16, ..., 64])
    trainer.epochs=range(5, 11)                -> Integer(5, 10)     (Hydra's stop is exclusive)
    optimizer=choice(sgd, adam) / sgd,adam     -> Categorical(["sgd", "adam"])
    net.hidden=choice([16],[64])               -> Categorical(["[16]", "[64]"])  (override text)
    trainer.epochs=10                          -> fixed for every trial

``hydra.sweeper.params`` are read first, then the command line, so the command line wins.
"""
from __future__ import annotations

from nets.errors import NnsweepError
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep


class SearchSpaceError(NnsweepError, ValueError):
    """A search-space entry that cannot become a dimension (e.g. low >= high)."""


@dataclass
class SearchSpace:
    names: list[str]  # override keys of the searched dimensions, in order
    dimensions: list[Any]  # skopt.space dimensions, same order
    fixed: list[str]  # overrides applied to every trial, as "key=value"

    def overrides(self, point: list[Any]) -> list[str]:
        """The overrides of one trial: the fixed ones, then ``key=value`` for each dimension."""
        return self.fixed + [f"{name}={format_value(v)}" for name, v in zip(self.names, point)]


def format_value(value: Any) -> str:
    """An override value written with ``str`` of a plain Python scalar: NumPy 2 reprs like
    ``np.float64(1e-05)`` are parse errors to Hydra, and skopt returns NumPy scalars."""
    if hasattr(value, "item"):
        value = value.item()
    return str(value)


def dimension_for(override: Override):
    from skopt.space import Categorical, Integer, Real

    key = override.get_key_element()
    sweep = override.value()
    if isinstance(sweep, IntervalSweep):
        low, high = sweep.start, sweep.end
        if not low < high:
            raise SearchSpaceError(f"{key}: interval low {low} must be below high {high}")
        log = "log" in (sweep.tags or set())
        if log and low <= 0:
            raise SearchSpaceError(f"{key}: a log interval needs low > 0, got {low}")
        prior = "log-uniform" if log else "uniform"
        if isinstance(low, int) and isinstance(high, int):
            return Integer(low, high, prior=prior, name=key)
        return Real(float(low), float(high), prior=prior, name=key)
    if isinstance(sweep, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise SearchSpaceError(f"{key}: range({sweep.start}, {sweep.stop}, {sweep.step}) is empty")
        if sweep.step == 1 and all(isinstance(v, int) for v in values):
            return Integer(values[0], values[-1], name=key) if len(values) > 1 else Categorical(values, name=key)
        return Categorical(values, name=key)
    if isinstance(sweep, ChoiceSweep):
        values = list(override.sweep_iterator())
        if len(values) < 1:
            raise SearchSpaceError(f"{key}: choice() needs at least one value")
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            # Lists and dicts (net.hidden=choice([16],[64])) are not hashable for skopt: keep
            # them as their override text, which Hydra parses back into the same value.
            values = list(override.sweep_string_iterator())
        return Categorical(values, name=key)
    raise SearchSpaceError(f"{key}: unsupported sweep {sweep}")


def build_search_space(overrides: list[Override]) -> SearchSpace:
    """Dimensions and fixed overrides from parsed overrides (later ones replace earlier ones)."""
    by_key: dict[str, Override] = {}
    for override in overrides:
        by_key[override.get_key_element()] = override
    names, dims, fixed = [], [], []
    for key, override in by_key.items():
        if override.is_sweep_override():
            names.append(key)
            dims.append(dimension_for(override))
        else:
            fixed.append(f"{key}={override.get_value_element_as_str()}")
    if not dims:
        raise SearchSpaceError(
            "nothing to search: give at least one dimension, e.g. 'optimizer.lr=tag(log, interval(1e-3, 3))', "
            "on the command line or in hydra.sweeper.params"
        )
    return SearchSpace(names, dims, fixed)
