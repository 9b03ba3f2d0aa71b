"""The architecture, checked: data flows one way, and each layer imports only the ones below it.

nets/       NumPy and SciPy only: no Hydra, no files of runs, nothing above it
runrecord/  the run record: nets, OmegaConf and YAML; nothing that trains or sweeps
experiments config -> network -> run record
sweeps/     launches experiments and reads run records; never the Hydra entrypoint
reports/    reads run records, trial logs and saved models; never training internals
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src"


def imports_of(package: str) -> dict[str, set[str]]:
    """Every module imported by each file of ``package`` (absolute names, also deferred imports)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offending(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{file} imports {name}"
        for file, names in imports_of(package).items()
        for name in sorted(names)
        if name.startswith(forbidden) and not name.startswith(allowed)
    ]


@pytest.mark.parametrize(
    "package, forbidden, allowed",
    [
        ("nets", ("hydra", "omegaconf", "pandas", "matplotlib", "runrecord", "experiments", "sweeps", "reports"), ()),
        ("runrecord", ("hydra", "experiments", "sweeps", "reports"), ()),
        ("sweeps", ("experiments.train", "reports.", "reports"), ("reports.live",)),  # sweeps.lr: its report at the end
        ("reports", ("experiments", "hydra"), ("experiments.cli", "experiments.startup")),  # the command line only
    ],
)
def test_each_layer_imports_only_what_is_below_it(package, forbidden, allowed):
    assert offending(package, forbidden, allowed) == []
