"""Paths given plain to the Hydra commands (``nnsweep evaluate <run dir>``): a sweep's run directory
holds ``=`` and ``,``, which Hydra's override grammar would split; each path reaches the config
exactly as it is on disk, and Hydra's flags and overrides around it are left as they are."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.arguments import PlainPaths, hydra_quoted, with_paths_as_overrides
from tests.experiments.conftest import run_module

AWKWARD = ["results/x/lr=0.1,seed=0", "it's here", "a b [1] {c:d}", "back\\slash", "ends\\", "q\\'"]


@pytest.mark.parametrize("path", AWKWARD)
def test_a_quoted_path_parses_back_to_itself(path):
    override = OverridesParser.create().parse_override(f"run={hydra_quoted(path)}")
    assert override.value() == path


def test_paths_become_overrides_and_flags_keep_their_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "lr=0.1,seed=0"
    run.mkdir()
    argv = ["--cfg", "job", run.name, "top=2", "a.png", "-i", "defaults", "b,c=d.png"]
    (tmp_path / "b,c=d.png").touch()
    assert with_paths_as_overrides(argv, PlainPaths("run", "image")) == [
        "run='lr=0.1,seed=0'",
        "image=['a.png','b,c=d.png']",
        "--cfg",
        "job",
        "top=2",
        "-i",
        "defaults",
    ]
    # A path with = that does not exist is an override (Hydra then names the key it does not know).
    assert with_paths_as_overrides(["nothere=1"], PlainPaths("run")) == ["nothere=1"]
    assert with_paths_as_overrides(["run=x", "weights=final"], PlainPaths("run")) == ["run=x", "weights=final"]
    with pytest.raises(NnsweepError, match="b: give one run directory"):
        with_paths_as_overrides(["a", "b"], PlainPaths("run"))


def test_evaluate_takes_a_sweeps_run_directory_as_it_is(tmp_path):
    """The directory does not hold a run: the error names it whole, so the path reached the command."""
    awkward = tmp_path / "lr=0.1,seed=0 it's"
    awkward.mkdir()
    result = run_module("nnsweep.experiments.evaluate", str(awkward))
    assert result.returncode == 2, result.stderr[-2000:]
    expected = f"nnsweep: error: {awkward} is not a training run directory (no .hydra/config.yaml)"
    assert result.stderr.strip().splitlines() == [f"{expected}; pass the directory of a run"]
