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


def _first_value(override) -> str:
    """One value of a sweep override, as override text, so one config can be composed."""
    from hydra.core.override_parser.types import IntervalSweep

    sweep = override.value()
    if isinstance(sweep, IntervalSweep):
        return str(sweep.start)
    return next(iter(override.sweep_string_iterator()))


def _check_run_dir(argv: list[str], key: str) -> None:
    """Hydra creates the run/sweep directory before any of our code could report on it."""
    for arg in argv:
        if arg.startswith(f"{key}="):
            path = Path(arg.split("=", 1)[1])
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                fail(f"cannot create {path}: {err.strerror}; choose another {key}")


def precheck(config_name: str, argv: list[str]) -> None:
    """Compose the config as Hydra will, and turn a failure into one line and exit 2.

    In multirun mode each sweep is replaced by its first value for this check (every key and
    type is still checked, the sweeper's options included), and a skopt search space is built
    once, so a typo or an empty interval fails before any job starts.
    """
    multirun = _is_multirun(argv)
    args = [a for a in argv if a not in ("-m", "--multirun")]
    if any(a.startswith("-") for a in args):
        return  # --help, --cfg, --info ...: Hydra's own handling
    _check_run_dir(args, "hydra.sweep.dir" if multirun else "hydra.run.dir")
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from experiments.config import register_configs

    register_configs()
    try:
        parsed = OverridesParser.create().parse_overrides(args)
        sweeps = [o for o in parsed if o.is_sweep_override()]
        plain = [f"{o.get_key_element()}={_first_value(o)}" if o in sweeps else o.input_line for o in parsed]
        if not multirun:
            plain = args  # sweep syntax without -m must fail, with Hydra's hint to add --multirun
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name, overrides=plain, return_hydra_config=True)
            if multirun:  # every value of every discrete sweep, the others at their first value
                for i, override in enumerate(parsed):
                    if override in sweeps and not override.is_interval_sweep():
                        for value in list(override.sweep_string_iterator())[1:]:
                            key = override.get_key_element()
                            compose(config_name, overrides=plain[:i] + [f"{key}={value}"] + plain[i + 1:])
        if multirun and "skopt" in str(cfg.hydra.sweeper.get("_target_", "")):
            from sweeps.search_space import build_search_space

            params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items()]
            build_search_space(OverridesParser.create().parse_overrides(params + [o.input_line for o in sweeps]))
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
