"""``--help`` of every entrypoint is plain text for a terminal: it works, and carries no reST
markup from the docstrings and schemas it is built from (``like this``)."""

import pytest

from tests.experiments.conftest import run_module

ENTRYPOINTS = [
    "nnsweep.experiments.train",
    "nnsweep.experiments.evaluate",
    "nnsweep.experiments.predict",
    "nnsweep.experiments.serve",
    "nnsweep.sweep_lr",
    "nnsweep.sweeps.keeper",
    "nnsweep.reports",
    "nnsweep.diff",
]


@pytest.mark.parametrize("module", ENTRYPOINTS)
def test_help_exits_0_without_rest_markup(module):
    result = run_module(module, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "python -m " + module in result.stdout  # the help itself, not an error
    assert "``" not in result.stdout + result.stderr, result.stdout


@pytest.mark.parametrize(
    "args, line",
    [
        (["-m", "--cfg", "job"], "nnsweep: error: --cfg and -m cannot be used together: give one of them"),
        (["-m", "-sc", "install=bash"], "nnsweep: error: -m and -sc cannot be used together: give one of them"),
        (
            ["-sc", "install=tcsh"],
            "nnsweep: error: -sc install=tcsh: no completion for 'tcsh'; the shells are bash, "
            "fish, zsh (e.g. -sc install=bash)",
        ),
    ],
)
def test_hydra_flags_that_cannot_work_are_one_line(args, line):
    """Hydra itself raises a bare ValueError (a traceback) for these."""
    result = run_module("nnsweep.experiments.train", *args)
    assert result.returncode == 2 and result.stderr.strip() == line, result.stderr[-2000:]


def test_a_run_directory_of_a_sweep_unquoted_says_how_to_quote_it():
    """A sweep's run directories are named by their overrides (``a=1,b=2``): unquoted, Hydra's
    parser says only "mismatched input '='"."""
    result = run_module("nnsweep.experiments.predict", "run=multirun/s/data=mnist5k,optimizer.lr=0.1", "image=x.png")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "nnsweep: error: run=multirun/s/data=mnist5k,optimizer.lr=0.1: a value with = or , in it (a sweep's run "
        "directory) must be quoted for Hydra: run='multirun/s/data=mnist5k,optimizer.lr=0.1' (in a shell: "
        "\"run='multirun/s/data=mnist5k,optimizer.lr=0.1'\")"
    )
