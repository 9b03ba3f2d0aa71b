"""The command line as Hydra takes it: its mode flags (one at a time), the flags that take a value,
the primary config a command line chooses, values quoted for Hydra's override grammar, and the
plain paths the commands that take paths accept (``PlainPaths``: a sweep's run directory holding
``=`` and ``,`` is given as it is).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from nnsweep.core.errors import NnsweepError

# Hydra's flags that each choose what the command does; Hydra allows one at a time.
HYDRA_MODES = {
    "-m": "-m",
    "--multirun": "-m",
    "-c": "--cfg",
    "--cfg": "--cfg",
    "-i": "--info",
    "--info": "--info",
    "-sc": "-sc",
    "--shell-completion": "-sc",
}


def is_multirun_flag(arg: str) -> bool:
    return HYDRA_MODES.get(arg) == "-m"


def hydra_quoted(value: str) -> str:
    """``value`` as a quoted Hydra override value: spaces, commas and ``=`` stay part of it."""
    # Hydra's rule: a backslash is literal unless it precedes a quote (or ends the string).
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    return "'" + re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped) + "'"


# Hydra's flags that take the next argument as their value (--info only with one of its topics).
HYDRA_VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name"}
HYDRA_VALUE_FLAGS |= {"-cd", "--config-dir", "--experimental-rerun"}
HYDRA_INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


@dataclass(frozen=True)
class PlainPaths:
    """The plain path arguments a Hydra command takes before or among its overrides: the first
    becomes ``first=<path>``, any further ones the list ``rest=[...]`` (None: one path only).
    Each is quoted for Hydra, so a run directory holding ``=`` or ``,`` is given as it is."""

    first: str
    rest: str | None = None


def with_paths_as_overrides(argv: list[str], paths: PlainPaths) -> list[str]:
    """``argv`` with its plain paths turned into overrides (``PlainPaths``). A path is an
    argument that is no flag and no flag's value, and has no ``=`` or names something on disk
    (``results/sweep/lr=0.1,seed=0`` is a path when it exists, else an override)."""
    overrides, found, flag_value = [], [], False
    for i, arg in enumerate(argv):
        if flag_value:  # the value of the flag before it
            overrides.append(arg)
            flag_value = False
        elif arg.startswith("-"):
            overrides.append(arg)
            flag_value = arg in HYDRA_VALUE_FLAGS or (
                arg in ("-i", "--info") and bool(set(argv[i + 1 : i + 2]) & HYDRA_INFO_TOPICS)
            )
        elif "=" not in arg or os.path.lexists(arg):
            found.append(arg)
        else:
            overrides.append(arg)
    if not found:
        return overrides
    if len(found) > 1 and paths.rest is None:
        raise NnsweepError(f"{found[1]}: give one {paths.first} directory ({found[0]} is the {paths.first})")
    given = [f"{paths.first}={hydra_quoted(found[0])}"]
    if len(found) > 1:
        given.append(f"{paths.rest}=[{','.join(hydra_quoted(p) for p in found[1:])}]")
    return given + overrides


def check_hydra_flags(argv: list[str]) -> None:
    """Hydra's own flags as Hydra will take them, with a one-line error where Hydra raises a bare
    ValueError: two modes at once, or a shell its completion does not know."""
    for arg in argv:
        if arg.startswith("+experiment="):  # the defaults list names the group: Hydra would say "already there"
            raise NnsweepError(f"{arg}: write {arg[1:]} (presets are chosen like search=, without +)")
    modes = sorted({HYDRA_MODES[a] for a in argv if a in HYDRA_MODES})
    if len(modes) > 1:
        raise NnsweepError(f"{' and '.join(modes)} cannot be used together: give one of them")
    if modes == ["-sc"]:
        from hydra.core.plugins import Plugins
        from hydra.plugins.completion_plugin import CompletionPlugin

        shells = sorted(p.provides() for p in Plugins.instance().discover(CompletionPlugin))
        for arg in argv:
            command, _, shell = arg.partition("=")
            if command in ("install", "uninstall", "query") and shell not in shells:
                raise NnsweepError(
                    f"-sc {arg}: no completion for {shell!r}; the shells are {', '.join(shells)} "
                    f"(e.g. -sc install=bash)"
                )


CONFIG_NAME_FLAGS = ("--config-name", "-cn")


def chosen_config(config_name: str, argv: list[str]) -> tuple[str, list[str]]:
    """The primary config ``argv`` chooses (``--config-name sweep_lr``: the training config with
    the learning-rate search in it), and the arguments without that choice."""
    rest, i = [], 0
    while i < len(argv):
        flag, equals, value = argv[i].partition("=")
        if flag in CONFIG_NAME_FLAGS and (equals or i + 1 < len(argv)):
            config_name = value if equals else argv[i + 1]
            i += 1 if equals else 2
            continue
        rest.append(argv[i])
        i += 1
    return config_name, rest
