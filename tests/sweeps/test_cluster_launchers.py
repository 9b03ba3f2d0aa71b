"""Sweeps on the cluster engines the README offers: Ray (``hydra/launcher=ray``), run for real,
and SLURM (``hydra/launcher=submitit_slurm``), whose documented command must compose (there is no
scheduler here; ``submitit_local`` runs the launcher's code in tests/sweeps/test_skopt_sweeper.py).

The Ray tests start a real one-machine Ray cluster with ``ray start --head``, from a directory of its
own, and connects the sweeps to it by address, as a user with a cluster would: the workers then
run in another working directory than the sweep, so results land in the sweep directory only if
nnsweep hands the workers absolute paths.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from nnsweep.runrecord import Status, find_runs
from nnsweep.sweeps import trials
from tests.reliability.conftest import TINY

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_env():
    """A running Ray head node; yields the environment and overrides that reach it."""
    pytest.importorskip(
        "hydra_plugins.hydra_ray_launcher", reason="Ray is in the cluster extra (make setup installs it)"
    )
    # Ray's Unix sockets live under its temp dir, and a socket path may have ~100 characters.
    home = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    start = [
        BIN / "ray",
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={home / 't'}",
    ]
    # In a session of its own, so that the head's processes (and the workers they start) form one
    # process group that the end of the test can kill at once (`ray stop` takes 7 s).
    started = subprocess.Popen(
        [str(a) for a in start],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output, _ = started.communicate(timeout=120)
    assert started.returncode == 0, output[-3000:]
    try:
        # hydra-ray-launcher 1.2.2 sets object_store_memory unless given, and ray.init refuses it
        # when it joins a running cluster: null says "not given".
        yield (
            env,
            [
                "hydra/launcher=ray",
                f"+hydra.launcher.ray.init.address=127.0.0.1:{port}",
                "+hydra.launcher.ray.init.object_store_memory=null",
            ],
            home,
        )
    finally:
        stop_group(started.pid)
        shutil.rmtree(home, ignore_errors=True)


def stop_group(group: int) -> None:
    """SIGKILL every process of a process group and wait until none is left."""
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of group {group} outlived SIGKILL")


def nnsweep(module: str, *args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_a_bayesian_sweep_runs_on_ray(ray_env, tmp_path):
    env, on_ray, ray_home = ray_env
    nnsweep(
        "nnsweep.experiments.train",
        "-m",
        *on_ray,
        "hydra/sweeper=skopt",
        "optimizer.lr=interval(0.05, 1.0)",
        *TINY,
        "trainer.epochs=1",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.batch_size=2",
        "sweep=bayes",
        cwd=tmp_path,
        env=env,
    )
    sweep = tmp_path / "multirun" / "bayes"  # relative to the sweep's directory, not the workers'
    log = trials.load(sweep)
    assert len(log.trials) == 2 and all(t.status == Status.OK for t in log.trials), log.trials
    assert len(find_runs(sweep)) == 2 and not (ray_home / "multirun").exists()


def test_a_learning_rate_sweep_runs_on_ray(ray_env, tmp_path):
    env, on_ray, ray_home = ray_env
    out = nnsweep(
        "nnsweep.sweep_lr",
        "--net",
        "mlp",
        *TINY[1:],
        *on_ray,
        "--lrs",
        "0.1,1",
        "--epochs",
        "1",
        "--batch",
        "10",
        "--no-report",
        cwd=tmp_path,
        env=env,
    )
    (sweep,) = (tmp_path / "results" / "sweep-lr").iterdir()
    assert "ray" not in sweep.name  # how runs are launched is not part of the sweep's name
    runs = find_runs(sweep)
    assert sorted(r.config().optimizer.lr for r in runs) == [0.1, 1.0]
    assert all(r.read_summary().status == Status.OK for r in runs)
    assert "2 runs: 2 ok" in out.stdout
    # The same sweep again, now on this machine's cores: every run is found finished.
    again = nnsweep(
        "nnsweep.sweep_lr",
        "--net",
        "mlp",
        *TINY[1:],
        "--lrs",
        "0.1,1",
        "--epochs",
        "1",
        "--batch",
        "10",
        "--no-report",
        cwd=tmp_path,
        env=env,
    )
    assert "already has its 2 trials: nothing to run" in again.stdout


def test_a_setting_the_ray_launcher_refuses_is_one_line(ray_env, tmp_path):
    """Without object_store_memory=null the launcher asks Ray for one, which a client joining a
    cluster may not: the user gets one line naming the launcher and the cause, exit 2."""
    env, on_ray, _ = ray_env
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nnsweep.experiments.train",
            "-m",
            *on_ray[:2],
            *TINY,
            "trainer.epochs=1",
            "optimizer.lr=0.1,1",
            "sweep=refused",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("nnsweep: error:")]
    assert "the launcher RayLauncher could not run the jobs (ValueError" in line and "object_store_memory" in line


def test_the_documented_slurm_command_composes():
    """The README's submitit_slurm example, composed as Hydra will before it submits anything."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra import compose, initialize_config_dir

    from nnsweep.experiments.cli import CONF_DIR
    from nnsweep.experiments.config import register_configs

    register_configs()
    overrides = [
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.timeout_min=60",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=2",
        "hydra/sweeper=skopt",
        "sweep=bayes",
        "optimizer.lr=0.1",
        "hydra.sweeper.batch_size=16",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (cfg.hydra.launcher.partition, cfg.hydra.launcher.cpus_per_task, cfg.hydra.launcher.mem_gb) == ("gpu", 1, 2)
    assert cfg.hydra.launcher.submitit_folder == "multirun/bayes/.submitit/%j"  # inside the (shared) sweep directory
    assert cfg.hydra.sweeper.batch_size == 16


def test_a_ray_address_where_nothing_answers_is_one_line_not_a_hang(tmp_path):
    """Ray itself retries such an address without end, deaf to Ctrl-C."""
    pytest.importorskip(
        "hydra_plugins.hydra_ray_launcher", reason="Ray is in the cluster extra (make setup installs it)"
    )
    port = free_port()  # free: nothing listens there
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nnsweep.experiments.train",
            "-m",
            "hydra/launcher=ray",
            f"+hydra.launcher.ray.init.address=127.0.0.1:{port}",
            *TINY,
            "optimizer.lr=0.1,1",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"nnsweep: error: no Ray cluster answers at 127.0.0.1:{port} (Connection refused)")
    )
    assert "Traceback" not in result.stderr
