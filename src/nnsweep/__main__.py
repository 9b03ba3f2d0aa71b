"""``nnsweep <command>``: every tool of the project behind one command, as git, optuna and mlflow
have one; ``nnsweep --help`` lists the commands.

A command is a module's entry function, so ``python -m <module>`` runs the same thing
(``python -m nnsweep.experiments.train`` is ``nnsweep train``). Hydra composes a config only for
the commands that have one (train, evaluate, predict, serve); they take Hydra's overrides and
flags, and bash completes their keys: the completion Hydra installs for ``nnsweep`` asks
``nnsweep -sc query=bash`` with the whole command line, so the command word is taken out of it
here and the command's own Hydra answers. The other commands take plain arguments (argparse).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

from nnsweep.experiments.startup import invoked_as


@dataclass(frozen=True)
class Command:
    module: str
    function: str  # the module's entry function: it reads sys.argv[1:]
    summary: str  # one line for nnsweep --help
    hydra: bool  # composes a Hydra config: overrides, -m, --cfg, tab completion of its keys


COMMANDS = {
    "train": Command(
        "nnsweep.experiments.train", "main", "train a network; with -m, a grid, random or Bayesian search", True
    ),
    "evaluate": Command(
        "nnsweep.experiments.evaluate", "main", "a run's accuracy on its test split or a test set", True
    ),
    "predict": Command("nnsweep.experiments.predict", "main", "a run's answers for image files of digits", True),
    "serve": Command("nnsweep.experiments.serve", "main", "the draw-a-digit page and test-set viewer of a run", True),
    "sweep-lr": Command(
        "nnsweep.sweep_lr", "main", "sweep the learning rate: the range test, runs, tables and report", False
    ),
    "collect": Command(
        "nnsweep.sweeps.keeper", "command", "a sweep's results tables (runs.csv, epochs.csv, configs.csv)", False
    ),
    "report": Command("nnsweep.reports.__main__", "command", "a sweep's figures and index.html", False),
    "lr-find": Command(
        "nnsweep.lr_find",
        "command",
        "the learning-rate range test: the loss as the rate grows, a rate to try",
        False,
    ),
    "audit-pruning": Command(
        "nnsweep.reports.pruning_audit", "command", "can pruning be trusted on a sweep? replayed from its record", False
    ),
    "diff": Command(
        "nnsweep.diff", "command", "two sweeps or runs compared: environment, settings, each configuration", False
    ),
    "export-optuna": Command(
        "nnsweep.export_optuna", "command", "a sweep as an Optuna study (SQLite), to open in optuna-dashboard", False
    ),
    "classics": Command(
        "nnsweep.classics", "command", "the classic projects on the full MNIST beside their published numbers", False
    ),
}

WIDTH = max(map(len, COMMANDS)) + 2  # the summaries' column
USAGE = "usage: nnsweep <command> [arguments]   (nnsweep <command> --help: what it takes)"
HELP = f"""{USAGE}

Hand-written NumPy networks on handwritten digits: train them, sweep and search their settings,
and see what they learned.

commands:
{chr(10).join(f"  {name:<{WIDTH}}{command.summary}" for name, command in COMMANDS.items())}

Tab completion in bash (the Hydra commands' keys, paths for the rest):
  eval "$(nnsweep -sc install=bash)"
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("nnsweep")
    except PackageNotFoundError:
        return "not installed (run from a clone)"


def complete(args: list[str]) -> None:
    """Hydra's bash completion for ``nnsweep``: ``install=bash`` prints the script (which calls
    ``nnsweep -sc query=bash``); a query completes the command word itself, or hands the line
    without it to the command's Hydra; paths (``-o default``) for the commands without a config."""
    if not any(a.startswith("query=") for a in args):
        run("train", ["-sc", *args])  # Hydra's script names sys.argv[0]: nnsweep
        return
    line = os.environ.get("COMP_LINE", "")
    words = line.split()
    if len(words) < 2 or (len(words) == 2 and not line.endswith(" ")):
        print(" ".join(COMMANDS))
        return
    name = words[1]
    if name not in COMMANDS or not COMMANDS[name].hydra:
        print()  # nothing to offer: bash completes a path
        return
    # The words Hydra reads: the program's, then the command's arguments without the command word
    # and without the plain paths before the word being completed (Hydra would take a path for an
    # override and print its parse error into the terminal; bash completes paths itself).
    typed, last = (words[2:], "") if line.endswith(" ") else (words[2:-1], words[-1])
    kept = [w for w in typed if "=" in w or w.startswith("-")]
    os.environ["COMP_LINE"] = " ".join([words[0], *kept, last])
    run(name, ["-sc", *args])


def run(name: str, args: list[str]) -> None:
    command = COMMANDS[name]
    invoked_as(f"nnsweep {name}")
    sys.argv = [sys.argv[0], *args]
    getattr(importlib.import_module(command.module), command.function)()


def main() -> None:
    args = sys.argv[1:]
    if args[:1] in (["-sc"], ["--shell-completion"]):
        complete(args[1:])
    elif not args:
        print(HELP, file=sys.stderr, end="")
        sys.exit(2)
    elif args[0] in ("-h", "--help"):
        print(HELP, end="")
    elif args[0] == "--version":
        print(f"nnsweep {version()}")
    elif args[0] in COMMANDS:
        run(args[0], args[1:])
    else:
        known = ", ".join(COMMANDS)
        print(f"nnsweep: error: no command {args[0]!r}; the commands are {known} (nnsweep --help)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
