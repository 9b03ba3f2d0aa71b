"""The architecture, checked: data flows one way, and each layer imports only the ones below it.

Each layer is a package at the repository's top level, imported as ``nnsweep.<layer>``:

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

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "nets", "runrecord", "experiments", "sweeps", "reports")
# Every file of the product, by its import name: the six layers (nnsweep.<layer> at the top level),
# the configs' package, the package's own __init__ and the Hydra plugin shell in src/.
SOURCES = {
    **{
        ".".join(("nnsweep", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__"): path
        for layer in (*LAYERS, "conf")
        for path in sorted((ROOT / layer).rglob("*.py"))
    },
    **{
        ".".join(path.relative_to(ROOT / "src").with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted((ROOT / "src").rglob("*.py"))
    },
}


def imported_by(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names, also deferred imports; ``from a import b``
    counts both ``a`` and ``a.b``, which may be a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return found


def offending(layer: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, path in SOURCES.items()
        if module.startswith(f"nnsweep.{layer}")
        for name in sorted(imported_by(path))
        if name.startswith(forbidden) and not name.startswith(allowed)
    ]


def ours(*layers: str) -> tuple[str, ...]:
    return tuple(f"nnsweep.{layer}" for layer in layers)


@pytest.mark.parametrize(
    "layer, forbidden, allowed",
    [
        ("core", ("numpy", "scipy", "hydra", "omegaconf", *ours(*LAYERS[1:])), ()),
        ("nets", ("hydra", "omegaconf", "pandas", "matplotlib", *ours(*LAYERS[2:])), ()),
        ("runrecord", ("hydra", *ours("experiments", "sweeps", "reports")), ()),
        # the entrypoints of one run; a search space is the sweeper's (it refuses a bad one before any job)
        ("experiments", ours("sweeps", "reports"), ()),
        ("sweeps", (*ours("experiments.train", "reports"),), ()),
        # the command line only
        ("reports", ("hydra", *ours("experiments")), ("nnsweep.experiments.cli", "nnsweep.experiments.startup")),
    ],
)
def test_each_layer_imports_only_what_is_below_it(layer, forbidden, allowed):
    assert offending(layer, forbidden, allowed) == []


def test_every_import_of_ours_goes_through_the_one_package():
    """A bare ``import nets`` works in a clone (the top level is on the path) but not installed,
    and it would pick up a researcher's own ``nets/`` or ``experiments/``: every import of our code,
    in the product, its tests and its benchmarks, names ``nnsweep.``."""
    files = [*SOURCES.values(), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    bare = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(imported_by(path))
        if name.split(".")[0] in (*LAYERS, "conf")
    ]
    assert bare == []


def module_graph() -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports (deferred imports too)."""
    return {name: {m for m in imported_by(path) if m in SOURCES and m != name} for name, path in SOURCES.items()}


def test_no_two_modules_import_each_other_even_through_others():
    """An import cycle (a -> b -> ... -> a) makes the order of imports matter, and the modules
    one concept; each is split at the concept both need (``nnsweep.experiments.startup.program_name``,
    ``nnsweep.reports.fingerprint``)."""
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


def test_every_module_of_the_package_imports():
    """A module moved or renamed leaves no import of its old home behind (ruff sees a name a module
    lacks only within that module)."""
    import importlib
    import pkgutil

    broken = []
    for layer in LAYERS:
        package = importlib.import_module(f"nnsweep.{layer}")
        for found in pkgutil.walk_packages(package.__path__, prefix=f"nnsweep.{layer}."):
            if found.name.endswith("__main__"):
                continue  # a command: importing it runs it
            try:
                importlib.import_module(found.name)
            except Exception as err:  # noqa: BLE001 - each broken module is named below
                broken.append(f"{found.name}: {type(err).__name__}: {err}")
    assert broken == []


MAX_MODULE_LINES = 420  # "about 400": a module past it holds more than one concept
MAX_FUNCTION_LINES = 60


def test_modules_stay_small_and_a_long_function_says_why():
    """No module of the product over ~400 lines; a function over 60 lines has a "Long on purpose:"
    comment just above it, saying why it is one."""
    too_long, unexplained = [], []
    for name, path in SOURCES.items():
        lines = path.read_text().splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 <= MAX_FUNCTION_LINES:
                    continue
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
                above = [line.strip() for line in lines[max(0, first - 4) : first]]
                if not any(line.startswith("# Long on purpose:") for line in above):
                    unexplained.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_long == [] and unexplained == []
