"""Shared command-line behaviour of the entrypoints: bad input is one line on stderr, not a trace.

Hydra reports composition errors (an unknown option, a value of the wrong type) over several
lines plus a hint about ``HYDRA_FULL_ERROR``. For a single run we compose the config once up
front with Hydra's compose API and print its message folded onto one line; multirun keeps
Hydra's own reporting, because sweep syntax (``a,b``) only composes per job.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, NoReturn

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
EXIT_BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with status 2."""
    print(f"nnsweep: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def fold_hydra_message(text: str) -> str:
    """Hydra's multi-line error text as one line, keeping what names the problem."""
    skip = ("full_key:", "reference_type=", "object_type=", "Config search path", "provider=",
            "Set the environment variable HYDRA_FULL_ERROR")
    parts: list[str] = []
    for raw in str(text).splitlines():
        line = raw.strip()
        if not line or line.startswith(skip):
            continue
        if raw.startswith("\t") and parts:  # an option listed under "Available options"
            parts[-1] += (" " if parts[-1].endswith(":") else ", ") + line
        else:
            parts.append(line)
    return " ".join(p if p.endswith((".", ":")) else p + ";" for p in parts).rstrip(";")


def _message_chain(err: BaseException) -> str:
    """The exception's text followed by its causes' (Hydra keeps the detail in ``__cause__``)."""
    texts, seen = [], set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if str(err) and str(err) not in texts and "$VALUE" not in str(err):
            texts.append(str(err))
        err = err.__cause__
    return "\n".join(texts)


def _is_multirun(argv: list[str]) -> bool:
    return any(a in ("-m", "--multirun") for a in argv)


def precheck(config_name: str, argv: list[str]) -> None:
    """Compose the config as Hydra will, and turn a failure into one line and exit 2."""
    if _is_multirun(argv) or any(a.startswith("-") for a in argv):
        return  # multirun, --help, --cfg, ...: Hydra's own handling
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = [a for a in argv if not a.lstrip("+~").startswith("hydra")]
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            compose(config_name, overrides=overrides)
    except Exception as err:  # Hydra raises several unrelated types; all mean bad input here
        fail(fold_hydra_message(_message_chain(err)))
    finally:
        GlobalHydra.instance().clear()


def run_hydra_app(app: Callable[[], object], config_name: str) -> None:
    """Run a ``@hydra.main`` function after the one-line precheck."""
    precheck(config_name, sys.argv[1:])
    app()


def parse_key_values(argv: list[str], usage: str, allowed: dict[str, bool], required: tuple[str, ...]) -> dict:
    """``key=value`` arguments in Hydra's style for the small tools (evaluate, predict).

    ``allowed`` maps each key to whether it takes several values (repeated ``key=a key=b`` or
    ``key=[a,b]``). ``--help`` prints ``usage``; anything else wrong is one line and exit 2.
    """
    if any(a in ("-h", "--help") for a in argv):
        print(usage)
        sys.exit(0)
    values: dict[str, object] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in allowed:
            fail(f"unexpected argument {arg!r}; expected {' '.join(k + '=...' for k in allowed)} (see --help)")
        if allowed[key]:
            items = value[1:-1].split(",") if value.startswith("[") and value.endswith("]") else [value]
            values.setdefault(key, []).extend(i.strip() for i in items if i.strip())
        else:
            values[key] = value
    missing = [k for k in required if not values.get(k)]
    if missing:
        fail(f"missing {', '.join(k + '=...' for k in missing)} (see --help)")
    return values
