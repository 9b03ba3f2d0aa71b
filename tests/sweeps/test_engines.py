"""The engines' options are all written out, the trial log records the engine and the versions
of the libraries behind it, and a resume under other versions is refused before any replay."""

import inspect
import json
import tomllib
from importlib.metadata import version

import optuna
import pytest
import skopt
from packaging.specifiers import SpecifierSet

from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.engines import make_engine, tpe_sampler
from nnsweep.sweeps.errors import SweepError
from nnsweep.sweeps.resume import check_versions
from nnsweep.sweeps.search_space import Dimension, SearchSpace
from nnsweep.sweeps.settings import SweeperSettings
from tests.experiments.conftest import run_module
from tests.sweeps.test_skopt_sweeper import REPO, sweep


def passed_options(monkeypatch, module, name: str, build) -> tuple[set, set]:
    """The keyword arguments ``build()`` gives ``module.name``, and every option it takes."""
    real, seen = getattr(module, name), {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    build()
    return set(seen), set(inspect.signature(real).parameters) - {"self"}


def one_dimension() -> SearchSpace:
    return SearchSpace(["x"], [Dimension("x", "real", 0.0, 1.0)], [])


def test_every_tpe_option_is_set_at_the_tested_values(monkeypatch):
    """Optuna 5 changed TPE's defaults (multivariate, constant liar): nothing is left to them."""
    given, options = passed_options(monkeypatch, optuna.samplers, "TPESampler", lambda: tpe_sampler(5, 0))
    assert given == options
    sampler = tpe_sampler(5, 0)
    assert (sampler._multivariate, sampler._constant_liar, sampler._n_startup_trials) == (True, True, 5)


def test_every_skopt_option_is_set(monkeypatch):
    given, options = passed_options(
        monkeypatch,
        skopt,
        "Optimizer",
        lambda: make_engine(one_dimension(), "gp", n_initial_points=2, seed=0, direction="maximize"),
    )
    assert options - given == {"dimensions", "n_random_starts"}  # positional; deprecated for n_initial_points


def test_the_tested_optuna_line_is_required():
    """pyproject.toml admits the installed Optuna's major line (uv.lock's) and no other."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    [spec] = [
        d.removeprefix("optuna").split(";")[0].strip()
        for d in project["project"]["dependencies"]
        if d.startswith("optuna")
    ]
    installed = version("optuna")
    major = int(installed.split(".")[0])
    allowed = SpecifierSet(spec)
    assert installed in allowed and f"{major}.0.0" in allowed
    assert f"{major - 1}.9.9" not in allowed and f"{major + 1}.0.0" not in allowed
    lock = (REPO / "uv.lock").read_text()
    assert f'name = "optuna"\nversion = "{installed}"' in lock


@pytest.mark.parametrize("engine, libraries", [("tpe", ["optuna"]), ("gp", ["scikit-optimize", "scikit-learn"])])
def test_the_trial_log_records_the_engine_and_its_versions(tmp_path, engine, libraries):
    result = sweep(tmp_path, "s", "hydra.sweeper.n_trials=2", f"hydra.sweeper.engine={engine}", sweeper="nnsweep")
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "s" / "trials.json").read_text())["settings"]["engine"]
    assert record["versions"] == {name: version(name) for name in libraries}
    assert record["name"] == {"tpe": "optuna.samplers.TPESampler", "gp": "skopt.Optimizer (GP)"}[engine]


def test_a_resume_under_another_version_is_refused_before_any_replay(tmp_path):
    """A TPE search recorded under Optuna 4.5.0, resumed with this Optuna (``nnsweep.experiments.train``,
    the real entrypoint): one line naming both versions and the fix, exit 2, and nothing trains."""
    search = [
        "-m",
        "hydra/sweeper=nnsweep",
        "optimizer.lr=interval(0.05, 0.5)",
        "net=mlp",
        "net.hidden=[16]",
        "data.train_limit=300",
        "trainer.progress=false",
        "trainer.epochs=1",
        f"hydra.sweep.dir={tmp_path / 's'}",
    ]
    first = run_module("nnsweep.experiments.train", *search, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    path = tmp_path / "s" / "trials.json"
    data = json.loads(path.read_text())
    assert data["settings"]["engine"]["versions"] == {"optuna": version("optuna")}
    data["settings"]["engine"]["versions"]["optuna"] = "4.5.0"
    path.write_text(json.dumps(data))
    runs = sorted(p.name for p in (tmp_path / "s").iterdir())
    again = run_module("nnsweep.experiments.train", *search, "hydra.sweeper.n_trials=3", cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.count("\n") == 1, again.stderr
    assert (
        f"was recorded with optuna 4.5.0, this environment has optuna {version('optuna')}" in again.stderr
        and "uv pip install 'optuna==4.5.0'" in again.stderr
        and "new sweep=<name>" in again.stderr
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == runs  # no new run: refused before any job


def test_a_log_that_does_not_say_its_engine_or_versions_is_refused_before_any_replay(tmp_path):
    """A random search's log with scikit-learn's version removed or null said "recorded with
    scikit-learn None ... (uv pip install )"; without its engine block, or naming another
    engine, it resumed unchecked. Each is now one line, exit 2, and nothing trains."""
    search = [
        "-m",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=random",
        "optimizer.lr=tag(log, interval(0.01, 3))",
        "net=mlp",
        "net.hidden=[16]",
        "data.train_limit=300",
        "trainer.progress=false",
        "trainer.epochs=1",
        "hydra.sweeper.live_report=false",
        f"hydra.sweep.dir={tmp_path / 's'}",
    ]
    first = run_module("nnsweep.experiments.train", *search, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    path = tmp_path / "s" / "trials.json"
    recorded = json.loads(path.read_text())
    runs = sorted(p.name for p in (tmp_path / "s").iterdir())
    edits = {
        "removed": (lambda e: e["versions"].pop("scikit-learn"), "does not say which version of scikit-learn made it"),
        "null": (lambda e: e["versions"].update({"scikit-learn": None}), "does not say which version of scikit-learn"),
        "no block": (None, "does not say which engine and versions made it"),
        "renamed": (
            lambda e: e.update(name="skopt.Optimizer (GP)"),
            "was recorded by the engine 'skopt.Optimizer (GP)'",
        ),
        # an earlier nnsweep's random search, whose draws moved with the batches: a new sweep, not a move
        "old random": (
            lambda e: e.update(name="skopt.Optimizer (initial points only)"),
            "is a random search of an earlier nnsweep",
        ),
    }
    for name, (edit, fragment) in edits.items():
        data = json.loads(json.dumps(recorded))
        if edit is None:
            del data["settings"]["engine"]
        else:
            edit(data["settings"]["engine"])
        path.write_text(json.dumps(data))
        advice = "Start a new sweep=<name>" if name == "old random" else "move trials.json away"
        if name not in ("removed", "old random"):  # the sweeper's own check, in this process: the same line
            with pytest.raises(SweepError) as refused:
                check_versions(SweeperSettings.checked(engine="random"), trial_log.load(tmp_path / "s"), tmp_path / "s")
            message = str(refused.value)
            assert fragment in message and "None" not in message and advice in message, name
            continue
        again = run_module("nnsweep.experiments.train", *search, "hydra.sweeper.n_trials=3", cwd=tmp_path)
        assert again.returncode == 2 and again.stderr.count("\n") == 1, (name, again.stderr[-2000:])
        assert fragment in again.stderr and "None" not in again.stderr and "install )" not in again.stderr, name
        assert advice in again.stderr, name
        assert sorted(p.name for p in (tmp_path / "s").iterdir()) == runs, name  # refused before any job


def test_random_search_points_depend_on_the_seed_and_the_trial_number_only():
    """However the asks are grouped (batches, a pruner's rounds, points still training), the
    n-th point is the same: a pruned and an unpruned search of one seed train the same points.
    scikit-optimize's own random points moved with every batch and pending point."""
    space = SearchSpace(
        ["lr", "width"],
        [Dimension("lr", "real", 0.01, 10.0, log=True), Dimension("width", "int", 10, 300)],
        [],
    )

    def points(batches: list[int], tell: bool, seed: int = 0) -> list[list]:
        engine = make_engine(space, "random", n_initial_points=20, seed=seed, direction="maximize")
        asked = []
        for n in batches:
            asked += engine.ask(n)
            if tell:  # tell each round at once; otherwise every point stays pending
                from nnsweep.sweeps.trials import Trial

                engine.tell([Trial(i, told=-0.5) for i in range(len(asked))])
        return asked

    one_by_one = points([1] * 12, tell=True)
    assert points([2] * 6, tell=False) == one_by_one == points([5, 3, 4], tell=True)
    assert points([12], tell=False, seed=1) != one_by_one
    assert all(0.01 <= lr <= 10 and 10 <= width <= 300 and isinstance(width, int) for lr, width in one_by_one)
    assert len({lr for lr, _ in one_by_one}) == 12
