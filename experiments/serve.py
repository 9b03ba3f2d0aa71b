"""Draw a digit and watch a trained network answer; look through its test set with its answers:
``nnsweep serve <run dir> [<runs or sweeps to compare>...] [port=8787] [host=127.0.0.1]``.

Serves the pages and JSON API of ``nnsweep.experiments.draw`` on this machine only (127.0.0.1) unless
``host=`` names another address. ``compare=`` adds runs the pages can switch to or compare with:
run directories, or sweep directories (and folders of sweeps, e.g. ``results``) whose ``best``
finished runs each are offered. ``test=<IDX dir>`` shows another test set in the viewer, e.g. the
official MNIST test set for a model trained on the embedded digits. ``request_timeout=`` (30 s)
is a client's time to send its whole request, ``max_connections=`` (32) the requests served at
once, ``max_decodes=`` (2) the images decoded at once (see the README's draw page section).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.arguments import PlainPaths
from nnsweep.experiments.build import ConfigError
from nnsweep.experiments.cli import exits_on_bad_input, run_command, warn
from nnsweep.experiments.draw.api import ServedRun
from nnsweep.experiments.draw.inputs import MAX_DECODES
from nnsweep.experiments.draw.server import MAX_CONNECTIONS, REQUEST_SECONDS, serve
from nnsweep.experiments.evaluate import NO_CONFIG_DIR, QUIET_LOGGING, load_run_test_set, quiet_hydra
from nnsweep.experiments.predict import Classifier
from nnsweep.experiments.startup import program_name
from nnsweep.runrecord import RunDir, RunRecordError, Status, find_runs, override_key


@dataclass
class ServeConfig:
    defaults: List[Any] = field(default_factory=lambda: list(QUIET_LOGGING))
    run: str = MISSING  # the training run the pages open with
    compare: Any = field(default_factory=list)  # more runs, or sweeps whose best runs are offered
    best: int = 3  # runs offered from each sweep in compare
    test: Optional[str] = None  # an IDX test set directory for the viewer instead of each run's test split
    host: str = "127.0.0.1"  # another address serves the page to other machines (no login!)
    port: int = 8787  # 0: any free port
    request_timeout: float = REQUEST_SECONDS  # seconds a client has to send its whole request
    max_connections: int = MAX_CONNECTIONS  # requests served at once (more: 503)
    max_decodes: int = MAX_DECODES  # images decoded at once (about 90 MB each at the pixel limit)
    hydra: Any = field(
        default_factory=lambda: quiet_hydra(
            program_name("nnsweep.experiments.serve"),
            program_name("nnsweep.experiments.serve") + " <run dir> [<run or sweep dir to compare>...] [best=3]\n"
            "    [test=<IDX test dir>] [port=8787] [host=127.0.0.1] [request_timeout=30] [max_connections=32]\n"
            "    [max_decodes=2]\n"
            "Serves a page to draw a digit and see the run's answer (/draw), the run's test images with its\n"
            "answers (/viewtest), and their JSON API (/api/...), on this machine until Ctrl-C.\n",
        )
    )


ConfigStore.instance().store(name="serve", node=ServeConfig)


def usable_run(path: str | Path, role: str = "run") -> RunDir:
    """The run directory at ``path``, refused with one line if it cannot be served: missing, not
    a run, no model, or still being trained (its model is rewritten every epoch)."""
    run = RunDir(path)
    if not run.path.exists():
        raise RunRecordError(f"{role} {run.path} does not exist; give the directory of a trained run")
    if not run.exists():
        raise RunRecordError(
            f"{role} {run.path} is not a training run directory (no .hydra/config.yaml); "
            "give the directory of a trained run, e.g. one inside results/"
        )
    if run.is_live() or run.status() == Status.RUNNING:
        raise RunRecordError(f"{role} {run.path} is being trained right now; serve it when its training has ended")
    if not run.model_path.is_file():
        raise RunRecordError(f"{role} {run.path} holds no model (model.npz); train it first")
    return run


def offered_runs(paths: list[str], best: int) -> list[tuple[RunDir, str]]:
    """The runs ``compare=`` names, with short names: a run directory as it is; below any other
    directory, the ``best`` finished runs of each sweep by validation accuracy, named by their
    sweep and the settings that tell them apart."""
    offered = []
    for path in paths:
        if RunDir(path).exists():
            offered.append((usable_run(path, "compare run"), str(path)))
            continue
        if not Path(path).is_dir():
            raise RunRecordError(f"compare: {path} does not exist; give run directories or sweep directories")
        sweeps: dict[Path, list[RunDir]] = defaultdict(list)
        for run in find_runs(path):
            sweeps[run.path.parent].append(run)
        if not sweeps:
            warn(f"compare: {path} holds no runs; nothing of it is offered")
        for sweep, runs in sorted(sweeps.items()):
            readable = {}  # run -> (its summary, its overrides); a damaged record leaves its run out
            for run in runs:
                try:
                    readable[run] = (run.read_summary(), run.defining_overrides())
                except RunRecordError as err:
                    warn(f"compare: {run.path} is left out: {err}")
            scored = [
                (summary.best_val_acc, run)
                for run, (summary, _) in readable.items()
                if summary
                and summary.status == Status.OK
                and summary.best_val_acc is not None
                and run.model_path.is_file()
            ]
            scored.sort(key=lambda pair: -pair[0])
            differing = _differing_overrides([overrides for _, overrides in readable.values()])
            for _, run in scored[:best]:
                settings = ",".join(o for o in readable[run][1] if override_key(o) in differing)
                offered.append((run, f"{sweep.name}: {settings or run.path.name}"))
    return offered


def _differing_overrides(overrides_of_runs: list[list[str]]) -> set[str]:
    """The override keys whose values differ between the runs of one sweep (their overrides)."""
    values: dict[str, set[str]] = defaultdict(set)
    for overrides in overrides_of_runs:
        for override in overrides:
            values[override_key(override)].add(override.partition("=")[2])
    return {key for key, seen in values.items() if len(seen) > 1 or len(overrides_of_runs) == 1}


def load_runs(run: str, compare: list[str], best: int) -> list[ServedRun]:
    main = usable_run(run)
    served = [ServedRun(Classifier(main.path), str(run))]
    seen = {main.path.resolve()}
    for other, name in offered_runs(compare, best):
        if other.path.resolve() not in seen:
            seen.add(other.path.resolve())
            try:
                served.append(ServedRun(Classifier(other.path), name))
            except NnsweepError as err:  # one damaged run of a sweep must not take the page down
                warn(f"compare: {other.path} is left out: {err}")
    return served


@hydra.main(version_base="1.3", config_path=NO_CONFIG_DIR, config_name="serve")
@exits_on_bad_input
def hydra_main(cfg: DictConfig) -> None:
    if not str(cfg.run).strip():
        raise ConfigError("say which run: nnsweep serve <run dir> (make draw serves the draw page's own model)")
    compare = (
        [str(c) for c in cfg.compare]
        if isinstance(cfg.compare, ListConfig)
        else ([str(cfg.compare)] if cfg.compare not in (None, "") else [])
    )
    if cfg.best < 1:
        raise ConfigError(f"best={cfg.best}: give how many runs of each sweep to offer, 1 or more")
    if cfg.test is not None and (not str(cfg.test).strip() or not Path(cfg.test).is_dir()):
        raise ConfigError(f"test={cfg.test!r} is not a directory; give a directory of IDX test files (t10k-*)")
    request_timeout = float(cfg.request_timeout)
    if not 0 < request_timeout <= 3600:
        raise ConfigError(
            f"request_timeout={cfg.request_timeout}: give the seconds a client has to send its request, "
            "more than 0 and at most 3600 (default 30)"
        )
    for key, default in (("max_connections", MAX_CONNECTIONS), ("max_decodes", MAX_DECODES)):
        if not 1 <= cfg[key] <= 10_000:
            raise ConfigError(f"{key}={cfg[key]}: give 1..10000 (default {default})")
    runs = load_runs(str(cfg.run), compare, int(cfg.best))
    if cfg.test is not None:  # read once now: a directory without the test files is one line here, not a 500 later
        load_run_test_set(runs[0].classifier.run, cfg.test)
    serve(runs, str(cfg.host), int(cfg.port), cfg.test, request_timeout, int(cfg.max_connections), int(cfg.max_decodes))


def main() -> None:
    run_command(hydra_main, hydra_config="serve", plain_paths=PlainPaths("run", "compare"))


if __name__ == "__main__":
    main()
