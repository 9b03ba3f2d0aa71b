"""The architecture, checked: data flows one way, and each layer imports only the ones below it.

core/       the base exception, atomic writes, the status enum: standard library only
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
        ("core", ("numpy", "scipy", "hydra", "omegaconf", "nets", "runrecord", "experiments", "sweeps", "reports"), ()),
        ("nets", ("hydra", "omegaconf", "pandas", "matplotlib", "runrecord", "experiments", "sweeps", "reports"), ()),
        ("runrecord", ("hydra", "experiments", "sweeps", "reports"), ()),
        ("sweeps", ("experiments.train", "reports.", "reports"), ("reports.live",)),  # sweeps.lr: its report at the end
        ("reports", ("experiments", "hydra"), ("experiments.cli", "experiments.startup")),  # the command line only
    ],
)
def test_each_layer_imports_only_what_is_below_it(package, forbidden, allowed):
    assert offending(package, forbidden, allowed) == []


def module_graph() -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports (deferred imports too)."""
    names = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in ROOT.rglob("*.py")
    }
    graph = {}
    for name, path in names.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        graph[name] = {m for m in found if m in names and m != name}
    return graph


def test_no_two_modules_import_each_other_even_through_others():
    """An import cycle (a -> b -> ... -> a) makes the order of imports matter, and the modules
    one concept; each is split at the concept both need (``experiments.startup.program_name``,
    ``reports.fingerprint``)."""
    graph = module_graph()
    cycles = []
    for start in graph:
        seen, stack = set(), [(start, (start,))]
        while stack:
            module, path = stack.pop()
            for imported in graph[module]:
                if imported == start:
                    cycles.append(" -> ".join((*path, start)))
                elif imported not in seen:
                    seen.add(imported)
                    stack.append((imported, (*path, imported)))
    assert cycles == []
