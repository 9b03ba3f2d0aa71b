"""The search engines behind nnsweep's sweeper: what proposes the next points (``nnsweep.sweeps.search``
runs the ask/tell loop, launches, records and prunes; an engine only asks and is told).

    grid     every combination of the swept values, in Hydra's order; told nothing
    random   independent draws, the n-th a function of the seed and n (``RandomEngine``), or
             scikit-optimize's sequences (initial_point_generator=sobol, lhs, halton ...)
    gp rf et scikit-optimize's Bayesian optimisation: a Gaussian process, a random forest or
             extra trees as the surrogate model (not gbrt: broken on scikit-learn >= 1.6)
    tpe      Optuna's tree-structured Parzen estimator (Optuna core only, no torch), multivariate,
             with constant liar for points still training; every option set (``tpe_sampler``)

Every engine is deterministic for its seed and the sequence of asks and tells, which is how a
rerun puts it back where it was: ``nnsweep.sweeps.search`` replays the recorded rounds (the same asks,
checked against the record, and the same tells in the same order).

Values are told as numbers to *minimise* (``nnsweep.sweeps.search`` flips a maximised objective), always
finite. A pruned trial is told its objective at the last rung it reached; the TPE engine is
also told that it was pruned, with its value at every rung, which Optuna's TPE ranks below every
complete trial (its own rule for pruned trials).

Points still training when more are asked (trials a pruner continues rung by rung) are *pending*.
scikit-optimize's ``ask`` does not know them; the engine asks a copy of the optimizer that was
told the constant liar's value (the best so far) for each, as scikit-optimize does inside one
batch. Optuna's TPE sees its running trials itself.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from nnsweep.core.status import Status
from nnsweep.sweeps.search_space import SearchSpace, plain
from nnsweep.sweeps.trials import Trial

SKOPT_ESTIMATORS = {"random": "GP", "gp": "GP", "rf": "RF", "et": "ET"}
ENGINES = ("grid", "random", "gp", "rf", "et", "tpe")


def same_point(a: Sequence[Any], b: Sequence[Any]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        x, y = plain(x), plain(y)
        if isinstance(x, float) or isinstance(y, float):
            if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


class Engine:
    """Proposes points (lists of values, in the order of ``space.names``) and learns from told
    values. Asked points are numbered 0, 1, 2 ... in the order asked; ``tell`` names them."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.points: list[list[Any]] = []  # every point asked, by number
        self.told: set[int] = set()

    @property
    def pending(self) -> list[int]:
        return [n for n in range(len(self.points)) if n not in self.told]

    def ask(self, n: int) -> list[list[Any]]:
        points = [[plain(v) for v in p] for p in self._ask(n)]
        self.points.extend(points)
        return points

    def tell(self, trials: Sequence[Trial]) -> None:
        """Tell finished trials (their ``number``, ``told``, ``status`` and ``rungs``), in this order."""
        trials = [t for t in trials if t.number not in self.told]
        if trials:
            self._tell(trials)
            self.told.update(t.number for t in trials)

    def tell_earlier(self, points: list[list[Any]], told: list[float]) -> None:
        """Tell points this engine never asked (an earlier sweep's trials: ``nnsweep.sweeps.warm_start``),
        before its first ask; only the model-based engines learn from them."""
        raise NotImplementedError(f"{type(self).__name__} learns nothing from earlier trials")

    def _ask(self, n: int) -> list[list[Any]]:
        raise NotImplementedError

    def _tell(self, trials: Sequence[Trial]) -> None:
        raise NotImplementedError

    def fitted(self):
        """What the end-of-search plots read (scikit-optimize's optimizer), or None."""
        return None


class GridEngine(Engine):
    """The points of a grid in order; told values change nothing."""

    def __init__(self, space: SearchSpace, points: list[list[str]]) -> None:
        super().__init__(space)
        self.grid = points

    def _ask(self, n: int) -> list[list[Any]]:
        start = len(self.points)
        return [list(p) for p in self.grid[start : start + n]]

    def _tell(self, trials) -> None:
        pass


class SkoptEngine(Engine):
    """scikit-optimize's ``Optimizer``: ``random`` with another generator than ``random`` (sobol,
    lhs ...) draws every point from that initial-point generator (its "dummy" estimator is broken
    on scikit-learn >= 1.8); ``random`` itself is ``RandomEngine``."""

    def __init__(
        self,
        space: SearchSpace,
        method: str,
        acq_func: str,
        n_initial_points: int,
        initial_point_generator: str,
        seed: int,
    ) -> None:
        from skopt import Optimizer

        super().__init__(space)
        self.opt = Optimizer(
            [d.to_skopt() for d in space.dimensions],
            base_estimator=SKOPT_ESTIMATORS[method],
            acq_func=acq_func,
            n_initial_points=n_initial_points,
            initial_point_generator=initial_point_generator,
            random_state=seed,
            # the rest at scikit-optimize 0.10.2's values, written out as for TPE
            n_jobs=1,
            acq_optimizer="auto",
            model_queue_size=None,
            space_constraint=None,
            acq_func_kwargs=None,
            acq_optimizer_kwargs=None,
            avoid_duplicates=True,
        )

    def _ask(self, n: int) -> list[list[Any]]:
        opt = self.opt
        pending = [self.points[i] for i in self.pending]
        if pending:  # constant liar for the points still training, on a copy (as skopt does in a batch)
            import numpy as np

            opt = self.opt.copy(random_state=self.opt.rng.randint(0, np.iinfo(np.int32).max))
            opt.tell(pending, [min(self.opt.yi) if self.opt.yi else 0.0] * len(pending))
        return opt.ask(n_points=n) if n > 1 else [opt.ask()]

    def _tell(self, trials) -> None:
        self.opt.tell([self.points[t.number] for t in trials], [t.told for t in trials])

    def tell_earlier(self, points: list[list[Any]], told: list[float]) -> None:
        """scikit-optimize's ``tell`` of old points: they count among its initial points too."""
        if points:
            self.opt.tell(points, told)

    def tell_all(self, points: list[list[Any]], told: list[float]) -> None:
        """Tell a whole record at once (one fit, for the plots of a finished search)."""
        self.opt.tell(points, told)

    def fitted(self):
        return self.opt


class RandomEngine(SkoptEngine):
    """Random search whose ``n``-th point is a function of the seed and ``n`` alone: one draw of
    the space (scikit-optimize's ``Space.rvs``) from a generator seeded with ``(seed, n)``. So the
    same seed proposes the same points whatever the batch size, the rounds a pruner makes or the
    points still training, and a pruned search and an unpruned one of the same seed train the
    same points: their difference is the pruner's alone, and the pruner's decisions can be
    replayed on the unpruned search's record (``nnsweep.sweeps.audit``). scikit-optimize's own
    random initial points come from one generator that every ask, batch and constant-liar copy
    moves, so they depend on all of those. The optimizer is still told every trial (its plots
    read it)."""

    def __init__(self, space: SearchSpace, n_initial_points: int, seed: int) -> None:
        super().__init__(space, "random", "gp_hedge", n_initial_points, "random", seed)
        self.seed = seed

    def _ask(self, n: int) -> list[list[Any]]:
        return [draw(self.opt.space, self.seed, number) for number in range(len(self.points), len(self.points) + n)]


def draw(space, seed: int, number: int) -> list[Any]:
    """The ``number``-th point of a random search with this seed (``RandomEngine``)."""
    import numpy as np

    state = np.random.SeedSequence([seed, number]).generate_state(1)[0]
    return space.rvs(n_samples=1, random_state=np.random.RandomState(state))[0]


class TpeEngine(Engine):
    """Optuna's TPE sampler on an in-memory study (the trial log is the record, not Optuna's
    storage). ``n_initial_points`` random trials come first, as with the Bayesian engines."""

    def __init__(self, space: SearchSpace, n_initial_points: int, seed: int, direction: str) -> None:
        import optuna

        super().__init__(space)
        self.sign = -1.0 if direction == "maximize" else 1.0  # Optuna is told values to minimise too
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = tpe_sampler(n_initial_points, seed)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.distributions = {d.name: d.to_optuna() for d in space.dimensions}
        self.trials: dict[int, Any] = {}

    def _ask(self, n: int) -> list[list[Any]]:
        points = []
        for _ in range(n):
            trial = self.study.ask(self.distributions)
            self.trials[len(self.points) + len(points)] = trial
            points.append([trial.params[name] for name in self.space.names])
        return points

    def tell_earlier(self, points: list[list[Any]], told: list[float]) -> None:
        """Optuna's ``add_trial`` of complete trials: TPE counts them among its startup trials."""
        import optuna

        for point, value in zip(points, told):
            params = dict(zip(self.space.names, point))
            self.study.add_trial(
                optuna.trial.create_trial(params=params, distributions=self.distributions, value=value)
            )

    def _tell(self, trials) -> None:
        from optuna.trial import TrialState

        for t in trials:
            trial = self.trials[t.number]
            if t.status == Status.PRUNED and t.rungs:
                for rung in t.rungs:
                    if rung.value is not None:
                        trial.report(self.sign * rung.value, step=rung.epochs)
                self.study.tell(trial, state=TrialState.PRUNED)
            else:
                self.study.tell(trial, t.told)


def tpe_sampler(n_startup_trials: int, seed: int):
    """Optuna's TPE with every option written out, at the values of the Optuna line nnsweep is
    tested with (5.x, ``pyproject.toml``): a default that changes in another release (Optuna 5
    made ``multivariate`` and ``constant_liar`` the default) cannot change the points a search
    proposes unseen. ``multivariate``: one joint Parzen estimator over all parameters (Falkner
    et al., BOHB, 2018), the 5.x default; ``constant_liar``: points still training count as bad
    ones, so trials asked together differ. The options Optuna 5 deprecates (to be removed in 6)
    are given at their values too, their deprecation warnings silenced: the values are the
    defaults, there is nothing for a user to change."""
    import warnings

    import optuna
    from optuna.samplers._tpe.sampler import default_gamma, default_weights  # TPE's own defaults (5.x)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return optuna.samplers.TPESampler(
            n_startup_trials=n_startup_trials,
            n_ei_candidates=24,
            seed=seed,
            multivariate=True,
            group=False,
            constant_liar=True,
            constraints_func=None,
            consider_prior=True,
            prior_weight=1.0,
            consider_magic_clip=True,
            consider_endpoints=False,
            gamma=default_gamma,
            weights=default_weights,
            warn_independent_sampling=False,
        )


# The libraries whose versions decide the points each engine proposes (recorded in the trial
# log: a search replays only under the same versions).
ENGINE_LIBRARIES = {
    "tpe": ("optuna",),
    "random": ("scikit-optimize", "scikit-learn"),
    "gp": ("scikit-optimize", "scikit-learn"),
    "rf": ("scikit-optimize", "scikit-learn"),
    "et": ("scikit-optimize", "scikit-learn"),
    "grid": (),
}
ENGINE_NAMES = {
    "tpe": "optuna.samplers.TPESampler",
    "random": "skopt.Space.rvs, one seeded draw per trial",  # RandomEngine
    "random-sequence": "skopt.Optimizer (initial points only)",  # another initial_point_generator
    "gp": "skopt.Optimizer (GP)",
    "rf": "skopt.Optimizer (RF)",
    "et": "skopt.Optimizer (ET)",
    "grid": "nnsweep grid",
}


def engine_name(method: str, generator: str = "random") -> str:
    """The engine that proposes ``method``'s points (random search draws its own points only with
    the ``random`` generator; sobol, lhs ... are scikit-optimize's sequences)."""
    if method == "random" and generator != "random":
        return ENGINE_NAMES["random-sequence"]
    return ENGINE_NAMES.get(method, method)


def engine_record(method: str, generator: str = "random") -> dict[str, Any]:
    """What the trial log records of the engine: its name and the installed versions of the
    libraries that decide its points."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for library in ENGINE_LIBRARIES.get(method, ()):
        try:
            versions[library] = version(library)
        except PackageNotFoundError:
            versions[library] = None
    return {"name": engine_name(method, generator), "versions": versions}


def recorded_engine_problem(recorded: Any, method: str, generator: str = "random") -> str | None:
    """Why a trial log's engine record (``settings["engine"]``) cannot vouch for a replay by this
    ``method``'s engine with the installed libraries, or None. A record without the block, a
    version missing or null, or another engine's name is not a record of this engine: another
    release may propose other points from the same seed, and nothing says which made the log.
    A grid depends on no library: without a block it has nothing to check."""
    installed = engine_record(method, generator)
    if not isinstance(recorded, dict):
        return None if not installed["versions"] else "does not say which engine and versions made it"
    if recorded.get("name") != installed["name"]:
        return f"was recorded by the engine {recorded.get('name')!r}, this sweep's is {installed['name']!r} ({method})"
    versions = recorded.get("versions")
    unknown = [
        n
        for n in installed["versions"]
        if not isinstance(versions, dict) or not isinstance(versions.get(n), str) or not versions.get(n)
    ]
    if unknown:
        return f"does not say which version of {', '.join(unknown)} made it"
    differ = [n for n in installed["versions"] if versions[n] != installed["versions"][n]]
    if differ:
        was = ", ".join(f"{n} {versions[n]}" for n in differ)
        now = ", ".join(f"{n} {installed['versions'][n]}" for n in differ)
        pins = " ".join(f"'{n}=={versions[n]}'" for n in differ)
        return (
            f"was recorded with {was}, this environment has {now}: the {method} engine cannot replay it under "
            f"another version. Install the recorded version{'s' if len(differ) > 1 else ''} to continue it "
            f"(uv pip install {pins})"
        )
    return None


def make_engine(
    space: SearchSpace,
    method: str,
    *,
    n_initial_points: int,
    seed: int,
    direction: str,
    acq_func: str = "gp_hedge",
    initial_point_generator: str = "random",
    grid: list[list[str]] | None = None,
) -> Engine:
    if method == "grid":
        return GridEngine(space, grid or [])
    if method == "tpe":
        return TpeEngine(space, n_initial_points, seed, direction)
    if method == "random" and initial_point_generator == "random":
        return RandomEngine(space, n_initial_points, seed)
    return SkoptEngine(space, method, acq_func, n_initial_points, initial_point_generator, seed)
