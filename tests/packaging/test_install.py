"""nnsweep as a real package: one import package (``nnsweep``) beside Hydra's ``hydra_plugins``, in the
wheel and in the editable install; both work from any directory, also one holding a researcher's
own ``experiments/``; ``nnsweep <command>`` completes in bash; Hydra 1.4 can find the sweepers.

The wheel test builds the wheel with uv, installs it (not editable) into a fresh virtualenv with
the versions of uv.lock, and drives every command from an unrelated temporary directory, so a
file that only exists in the clone (the configs, the plugins) cannot hide. The editable install
is the one ``make setup`` made, the one these tests run in.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnsweep.sweeps import trials
from tests.reliability.conftest import TINY, TINY_LR

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UV = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
COMMANDS = [
    "train",
    "evaluate",
    "predict",
    "serve",
    "sweep-lr",
    "lr-find",
    "collect",
    "report",
    "audit-pruning",
    "export-optuna",
    "diff",
]
PAGES = ["draw.html", "draw.js", "viewtest.html", "viewtest.js", "common.js", "style.css"]

pytestmark = [
    pytest.mark.slow,  # builds and installs the wheel: the full suite, not make test-fast
    pytest.mark.skipif(UV is None, reason="uv is installed by make setup (the dev extra)"),
]


def run(*args, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, REPO, cwd=REPO)
    (built,) = out.glob("nnsweep-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh virtualenv with the wheel and uv.lock's versions of its dependencies; the
    environment to run its commands in (no PYTHONPATH, so nothing comes from the clone)."""
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv, cwd=root)
    constraints = root / "constraints.txt"
    exported = run(UV, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header", cwd=REPO)
    constraints.write_text(exported.stdout)
    run(
        UV,
        "pip",
        "install",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        "--constraints",
        constraints,
        wheel,
        cwd=root,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {"bin": venv / "bin", "env": env}


def import_names(paths: list[str]) -> set[str]:
    """The top-level names Python can import from these files and directories of an install."""
    return {name.split("/")[0].removesuffix(".py") for name in paths if not name.split("/")[0].endswith(".dist-info")}


def test_the_wheel_holds_one_import_package_the_configs_and_the_plugins_and_nothing_of_the_clone(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert import_names(names) == {"nnsweep", "hydra_plugins"}
    assert "nnsweep/conf/config.yaml" in names and "nnsweep/conf/net/rashid.yaml" in names
    assert "nnsweep/conf/search/mlp_lr_l2.yaml" in names and "nnsweep/nets/data/__init__.py" in names
    assert "hydra_plugins/nnsweep_sweeper/sweeper.py" in names and "nnsweep/__main__.py" in names
    assert all(f"nnsweep/experiments/draw/web/{page}" in names for page in PAGES)
    assert not any(n.startswith(("nnsweep/tests/", "nnsweep/bench/", "hydra_plugins/__init__")) for n in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "nnsweep = nnsweep.__main__:main" in text and "nnsweep-" not in text.split("[hydra.plugins]")[0]
    assert "[hydra.plugins]" in text


def test_the_editable_install_is_one_path_entry_holding_nnsweep_and_hydra_plugins_only():
    """``make setup``'s install: one plain .pth line, src/ (Hydra 1.3 lists hydra_plugins through
    it), and src/ holds only the two import names."""
    site = Path(sysconfig.get_paths()["purelib"])
    (pth,) = site.glob("__editable__.nnsweep-*.pth")
    assert pth.read_text().split() == [str(REPO / "src")]
    assert not list(site.glob("__editable___nnsweep*finder.py"))  # no import hook
    assert import_names([p.name for p in (REPO / "src").iterdir() if not p.name.endswith(".egg-info")]) == {
        "nnsweep",
        "hydra_plugins",
    }


def a_researchers_folder(where: Path) -> Path:
    """A directory of a researcher's with packages of their own named like our layers: importing
    any of them fails loudly, so a command that picked one up would fail."""
    for name in ("experiments", "reports", "nets", "sweeps", "conf", "core"):
        (where / name).mkdir(parents=True)
        (where / name / "__init__.py").write_text(f"raise ImportError('the researcher\\'s own {name}')\n")
    return where


def sweeps_from_an_unrelated_directory(nnsweep: Path, where: Path, env: dict) -> None:
    """A grid, a Bayesian search (Optuna's TPE in our sweeper) and a learning-rate sweep, from
    ``where``; each must finish its trials."""
    a_researchers_folder(where)
    python = nnsweep.parent / "python"
    where_from = run(
        python,
        "-c",
        "import nnsweep.nets, hydra_plugins.nnsweep_sweeper as s; print(nnsweep.nets.__file__); print(s.__file__)",
        cwd=where,
        env=env,
    ).stdout
    assert str(where) not in where_from, where_from
    # Their `import experiments` is theirs (python -c puts the current directory first), and ours
    # runs beside it, also as python -m (which does the same).
    theirs = subprocess.run([python, "-c", "import experiments"], cwd=where, env=env, capture_output=True, text=True)
    assert "the researcher's own experiments" in theirs.stderr, theirs.stderr[-2000:]
    shown = run(python, "-m", "nnsweep.experiments.train", *TINY, "--cfg", "job", cwd=where, env=env)
    assert "hidden:\n  - 16" in shown.stdout
    quick = [*TINY, "trainer.epochs=1"]
    run(nnsweep, "train", "-m", *quick, "optimizer.lr=0.1,1", "sweep=grid", cwd=where, env=env)
    grid = trials.load(where / "multirun" / "grid")
    assert sorted(t.params["optimizer.lr"] for t in grid.trials) == ["0.1", "1"], grid.trials
    run(
        nnsweep,
        "train",
        "-m",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=tpe",
        "optimizer.lr=interval(0.05, 1.0)",
        *quick,
        "hydra.sweeper.n_trials=2",
        "sweep=bayes",
        cwd=where,
        env=env,
    )
    bayes = trials.load(where / "multirun" / "bayes")
    assert len(bayes.trials) == 2 and all(t.status == "ok" for t in bayes.trials), bayes.trials
    sweep = where / "lr"
    run(
        nnsweep,
        "sweep-lr",
        *TINY_LR,
        "--lrs",
        "0.1,1",
        "--epochs",
        "1",
        "--batch",
        "10",
        "--sweep-dir",
        sweep,
        cwd=where,
        env={**env, "NNSWEEP_LIVE_REPORT": "1"},  # the suite turns sweeps' reports off; this one is checked
    )
    assert (sweep / "report" / "index.html").exists() and len((sweep / "runs.csv").read_text().splitlines()) == 3
    # A run directory of the sweep (its name holds = and ,) given to evaluate as a plain path.
    (one,) = [p for p in sweep.iterdir() if p.is_dir() and "lr=0.1" in p.name]
    assert "=" in one.name
    assert "test accuracy" in run(nnsweep, "evaluate", one.relative_to(where), cwd=where, env=env).stdout


def test_the_editable_install_sweeps_from_an_unrelated_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    sweeps_from_an_unrelated_directory(BIN / "nnsweep", tmp_path, env)


def test_the_installed_wheel_trains_sweeps_reports_evaluates_and_predicts_from_any_directory(installed, tmp_path):
    bin_, env = installed["bin"], installed["env"]
    where = run(
        bin_ / "python",
        "-c",
        "import nnsweep.experiments, hydra_plugins.nnsweep_sweeper as s; "
        "print(nnsweep.experiments.__file__); print(s.__file__)",
        cwd=tmp_path,
        env=env,
    ).stdout
    assert str(REPO) not in where and where.count("site-packages") == 2, where

    # One epoch through the command, and the same through python -m.
    run(bin_ / "nnsweep", "train", *TINY, "trainer.epochs=1", "hydra.run.dir=runs/one", cwd=tmp_path, env=env)
    summary = json.loads((tmp_path / "runs" / "one" / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["epochs_completed"] == 1
    run(bin_ / "nnsweep", "train", *TINY, "trainer.epochs=1", cwd=tmp_path, env=env)
    assert len(list((tmp_path / "outputs").glob("*/*/summary.json"))) == 1  # under the current directory
    shown = run(bin_ / "python", "-m", "nnsweep.experiments.train", *TINY, "--cfg", "job", cwd=tmp_path, env=env)
    assert "hidden:\n  - 16" in shown.stdout  # python -m composes the same configs
    shown = run(bin_ / "python", "-m", "nnsweep", "train", *TINY, "--cfg", "job", cwd=tmp_path, env=env)
    assert "hidden:\n  - 16" in shown.stdout

    evaluated = run(bin_ / "nnsweep", "evaluate", "runs/one", cwd=tmp_path, env=env)
    assert "test" in evaluated.stdout.lower()
    picture = tmp_path / "one.png"
    Image.fromarray(np.pad(np.full((20, 4), 255, np.uint8), 4)).save(picture)
    predicted = run(bin_ / "nnsweep", "predict", "runs/one", picture, cwd=tmp_path, env=env)
    assert predicted.stdout.startswith(f"{picture}: ")
    served = subprocess.Popen(
        [bin_ / "nnsweep", "serve", "runs/one", "port=0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        address = served.stdout.readline().split("http://")[1].split("/")[0]
        for page in ["draw", "viewtest", *(f"static/{p}" for p in PAGES)]:
            with urllib.request.urlopen(f"http://{address}/{page}", timeout=30) as response:
                assert response.status == 200 and response.read()
    finally:
        served.send_signal(signal.SIGINT)
        served.wait(timeout=30)

    # A 2-trial Bayesian search with scikit-optimize: the skopt sweeper is in the installed hydra_plugins.
    run(
        bin_ / "nnsweep",
        "train",
        "-m",
        "hydra/sweeper=skopt",
        "optimizer.lr=interval(0.05, 1.0)",
        *TINY,
        "trainer.epochs=1",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_initial_points=2",
        "sweep=bayes-gp",
        cwd=tmp_path,
        env=env,
    )
    log = trials.load(tmp_path / "multirun" / "bayes-gp")
    assert len(log.trials) == 2 and all(t.status == "ok" for t in log.trials), log.trials

    # A grid, TPE and the learning-rate sweep with its tables and report, beside a researcher's own packages.
    sweeps_from_an_unrelated_directory(bin_ / "nnsweep", tmp_path / "elsewhere", env)


COMPLETION = """
eval "$(nnsweep -sc install=bash)"
complete -p nnsweep
for line in %s; do
    COMP_LINE="$line"; COMP_POINT=${#COMP_LINE}; words=($COMP_LINE); COMP_CWORD=$(( ${#words[@]} - 1 ))
    [ "${COMP_LINE: -1}" == " " ] && COMP_CWORD=${#words[@]}
    hydra_bash_completion
    echo "$line -> ${COMPREPLY[*]}"
done
"""


def test_nnsweep_completes_its_commands_and_each_hydra_commands_keys_in_bash(tmp_path):
    """The README's line, then what bash's completion would call for each line typed so far."""
    readme = (REPO / "README.md").read_text()
    assert '\neval "$(nnsweep -sc install=bash)"\n' in readme
    (tmp_path / "results").mkdir()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    lines = [
        "nnsweep ",
        "nnsweep tr",
        "nnsweep train optimizer=",
        "nnsweep train trainer.ep",
        "nnsweep train net=mlp net.hid",
        "nnsweep evaluate ",
        "nnsweep evaluate we",
        "nnsweep predict ",
        "nnsweep serve ",
        "nnsweep report res",
        "nnsweep evaluate results/x te",  # after a plain path (Hydra printed its parse error)
        "nnsweep serve results/x ",
    ]
    out = run("bash", "-c", COMPLETION % " ".join(f'"{line}"' for line in lines), cwd=tmp_path, env=env).stdout
    assert "hydra_bash_completion nnsweep" in out
    assert "nnsweep  -> train evaluate predict serve sweep-lr collect report" in out, out
    assert "nnsweep tr -> train" in out, out
    assert "nnsweep train optimizer= -> optimizer=adam optimizer=momentum optimizer=nesterov" in out, out
    assert "nnsweep train trainer.ep -> trainer.epochs=" in out, out
    assert "net.hid -> net.hidden" in out  # a list: Hydra offers net.hidden.
    assert "nnsweep evaluate  -> hydra hydra. run= test= weights=" in out, out
    assert "nnsweep evaluate we -> weights=" in out, out
    assert "nnsweep predict  -> hydra hydra. image= run= top=" in out, out
    served = next(line for line in out.splitlines() if line.startswith("nnsweep serve  -> "))
    assert "compare." in served and "port=" in served and "conf" not in served.split(), served
    assert "nnsweep report res -> results" in out, out  # not Hydra's: bash's own file names
    assert "nnsweep evaluate results/x te -> test=" in out and "error" not in out, out
    assert "port=" in next(line for line in out.splitlines() if line.startswith("nnsweep serve results/x  -> "))


def test_nnsweep_lists_its_commands_and_each_answers_help_under_its_own_name(tmp_path):
    listed = run(BIN / "nnsweep", "--help", cwd=tmp_path).stdout
    assert all(f"\n  {command} " in listed for command in COMMANDS), listed
    for command in COMMANDS:
        result = run(BIN / "nnsweep", command, "--help", cwd=tmp_path)
        assert result.stdout.lstrip().startswith((f"usage: nnsweep {command} ", f"nnsweep {command}")), result.stdout[
            :200
        ]
    unknown = subprocess.run([BIN / "nnsweep", "trian"], cwd=tmp_path, capture_output=True, text=True)
    assert unknown.returncode == 2 and unknown.stderr.startswith("nnsweep: error: no command 'trian'; the commands are")
    assert len(unknown.stderr.splitlines()) == 1
    bare = subprocess.run([BIN / "nnsweep"], cwd=tmp_path, capture_output=True, text=True)
    assert bare.returncode == 2 and "usage: nnsweep <command>" in bare.stderr


def test_hydra_1_4_finds_the_sweepers_through_entry_points():
    """Hydra 1.4 loads each ``hydra.plugins`` entry point and keeps it if it is a concrete plugin
    class; 1.3 scans the ``hydra_plugins`` namespace instead (the other tests use that route)."""
    import inspect

    from hydra.plugins.sweeper import Sweeper

    ours = {e.name: e for e in entry_points(group="hydra.plugins") if e.name.startswith("nnsweep")}
    assert set(ours) == {"nnsweep", "nnsweep-grid", "nnsweep-skopt"}
    classes = {name: e.load() for name, e in ours.items()}
    for cls in classes.values():
        assert inspect.isclass(cls) and issubclass(cls, Sweeper) and not inspect.isabstract(cls)
    assert {cls.__module__ for cls in classes.values()} == {"hydra_plugins.nnsweep_sweeper.sweeper"}
