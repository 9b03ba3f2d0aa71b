"""nnsweep as a real package: the wheel holds what a run needs and works from any directory, the
console scripts complete in bash as Hydra documents, and Hydra 1.4 can find the sweepers.

The wheel test builds the wheel with uv, installs it (not editable) into a fresh virtualenv with
the versions of uv.lock, and drives every entrypoint from an unrelated temporary directory, so a
file that only exists in the clone (the configs, the plugins) cannot hide.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from nnsweep.sweeps import trials
from PIL import Image

from tests.reliability.conftest import TINY

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UV = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
SCRIPTS = [
    "nnsweep-train",
    "nnsweep-evaluate",
    "nnsweep-predict",
    "nnsweep-serve",
    "nnsweep-sweep-lr",
    "nnsweep-collect",
    "nnsweep-report",
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


def test_the_wheel_holds_the_configs_and_plugins_and_nothing_of_the_clone(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "conf/config.yaml" in names and "conf/net/rashid.yaml" in names
    assert "conf/search/mlp_lr_l2.yaml" in names
    assert "hydra_plugins/nnsweep_sweeper/sweeper.py" in names
    assert all(f"experiments/draw/web/{page}" in names for page in PAGES)
    assert not any(n.startswith(("tests/", "bench/", "hydra_plugins/__init__")) for n in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert all(f"{script} = " in text for script in SCRIPTS)
    assert "[hydra.plugins]" in text


def test_the_installed_wheel_trains_sweeps_reports_evaluates_and_predicts_from_any_directory(installed, tmp_path):
    bin_, env = installed["bin"], installed["env"]
    where = run(
        bin_ / "python",
        "-c",
        "import experiments, hydra_plugins.nnsweep_sweeper as s; print(nnsweep.experiments.__file__); print(s.__file__)",
        cwd=tmp_path,
        env=env,
    ).stdout
    assert str(REPO) not in where and where.count("site-packages") == 2, where

    # One epoch through the console script, and the same through python -m.
    run(bin_ / "nnsweep-train", *TINY, "trainer.epochs=1", "hydra.run.dir=runs/one", cwd=tmp_path, env=env)
    summary = json.loads((tmp_path / "runs" / "one" / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["epochs_completed"] == 1
    run(bin_ / "nnsweep-train", *TINY, "trainer.epochs=1", cwd=tmp_path, env=env)
    assert len(list((tmp_path / "outputs").glob("*/*/summary.json"))) == 1  # under the current directory
    shown = run(bin_ / "python", "-m", "nnsweep.experiments.train", *TINY, "--cfg", "job", cwd=tmp_path, env=env)
    assert "hidden:\n  - 16" in shown.stdout  # python -m composes the same configs

    evaluated = run(bin_ / "nnsweep-evaluate", "run=runs/one", cwd=tmp_path, env=env)
    assert "test" in evaluated.stdout.lower()
    picture = tmp_path / "one.png"
    Image.fromarray(np.pad(np.full((20, 4), 255, np.uint8), 4)).save(picture)
    predicted = run(bin_ / "nnsweep-predict", "run=runs/one", f"image={picture}", cwd=tmp_path, env=env)
    assert predicted.stdout.startswith(f"{picture}: ")
    served = subprocess.Popen(
        [bin_ / "nnsweep-serve", "run=runs/one", "port=0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        address = served.stdout.readline().split("http://")[1].split("/")[0]
        for page in ["draw", "viewtest", *(f"static/{p}" for p in PAGES)]:
            with urllib.request.urlopen(f"http://{address}/{page}", timeout=30) as response:
                assert response.status == 200 and response.read()
    finally:
        served.send_signal(signal.SIGINT)
        served.wait(timeout=30)

    # A 2-trial Bayesian sweep: the skopt sweeper is found in the installed hydra_plugins.
    run(
        bin_ / "nnsweep-train",
        "-m",
        "hydra/sweeper=skopt",
        "optimizer.lr=interval(0.05, 1.0)",
        *TINY,
        "trainer.epochs=1",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_initial_points=2",
        "sweep=bayes",
        cwd=tmp_path,
        env=env,
    )
    log = trials.load(tmp_path / "multirun" / "bayes")
    assert len(log.trials) == 2 and all(t["status"] == "ok" for t in log.trials), log.trials

    # The learning-rate sweep with its tables and report; then collect and report again by hand.
    sweep = tmp_path / "lr"
    run(
        bin_ / "nnsweep-sweep-lr",
        "--net",
        "mlp",
        *TINY[1:],
        "--lrs",
        "0.1,1",
        "--epochs",
        "1",
        "--batch",
        "10",
        "--sweep-dir",
        sweep,
        cwd=tmp_path,
        env=env,
    )
    assert (sweep / "report" / "index.html").exists() and len((sweep / "runs.csv").read_text().splitlines()) == 3


def test_console_scripts_complete_in_bash_as_hydra_documents(tmp_path):
    """``eval "$(nnsweep-train -sc install=bash)"``, then what bash's completion would call."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    script = """
eval "$(nnsweep-train -sc install=bash)"
complete -p nnsweep-train
for line in "nnsweep-train optimizer=" "nnsweep-train trainer.ep" "nnsweep-train net=mlp net.hid"; do
    COMP_LINE="$line"; COMP_POINT=${#COMP_LINE}; words=($COMP_LINE); COMP_CWORD=$(( ${#words[@]} - 1 ))
    hydra_bash_completion
    echo "$line -> ${COMPREPLY[*]}"
done
"""
    out = run("bash", "-c", script, cwd=tmp_path, env=env).stdout
    assert "hydra_bash_completion nnsweep-train" in out
    assert "nnsweep-train optimizer= -> optimizer=adam optimizer=momentum optimizer=nesterov" in out
    assert "nnsweep-train trainer.ep -> trainer.epochs=" in out
    assert "net.hid -> net.hidden" in out  # a list: Hydra offers net.hidden.


def test_the_readmes_completion_line_completes_every_hydra_command_it_names(tmp_path):
    """The README's one line registers nnsweep-evaluate and nnsweep-predict too, and they offer
    their own keys, not experiments/'s folders (conf, web) as config groups."""
    readme = (REPO / "README.md").read_text()
    (line,) = [t for t in readme.splitlines() if t.startswith('eval "$(nnsweep-train -sc install=bash)"')]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    script = (
        line
        + """
for line in "nnsweep-evaluate " "nnsweep-evaluate we" "nnsweep-predict " "nnsweep-train optimizer=a" \
        "nnsweep-serve "; do
    COMP_LINE="$line"; COMP_POINT=${#COMP_LINE}; words=($COMP_LINE); COMP_CWORD=$(( ${#words[@]} - 1 ))
    [ "${COMP_LINE: -1}" == " " ] && COMP_CWORD=${#words[@]}
    complete -p ${words[0]} > /dev/null && hydra_bash_completion
    echo "$line -> ${COMPREPLY[*]}"
done
"""
    )
    out = run("bash", "-c", script, cwd=tmp_path, env=env).stdout
    assert "nnsweep-evaluate  -> hydra hydra. run= test= weights=" in out, out
    assert "nnsweep-evaluate we -> weights=" in out and "nnsweep-train optimizer=a -> optimizer=adam" in out, out
    assert "nnsweep-predict  -> hydra hydra. image= run= top=" in out, out
    served = next(line for line in out.splitlines() if line.startswith("nnsweep-serve  -> "))
    assert "run=" in served and "compare." in served and "port=" in served and "conf" not in served.split(), served


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_console_script_is_installed_and_answers_help(script, tmp_path):
    result = run(BIN / script, "--help", cwd=tmp_path)
    assert "usage" in result.stdout.lower() or "Powered by Hydra" in result.stdout
    assert result.stdout.lstrip().startswith((f"usage: {script} ", f"{script}")), result.stdout[:200]  # its own name


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
