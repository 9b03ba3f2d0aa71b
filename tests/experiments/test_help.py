"""``--help`` of every entrypoint is plain text for a terminal: it works, and carries no reST
markup from the docstrings and schemas it is built from (``like this``)."""
import pytest

from tests.experiments.conftest import run_module

ENTRYPOINTS = ["experiments.train", "experiments.evaluate", "experiments.predict", "sweeps.lr", "sweeps.collect",
               "reports"]


@pytest.mark.parametrize("module", ENTRYPOINTS)
def test_help_exits_0_without_rest_markup(module):
    result = run_module(module, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "python -m " + module in result.stdout  # the help itself, not an error
    assert "``" not in result.stdout + result.stderr, result.stdout
