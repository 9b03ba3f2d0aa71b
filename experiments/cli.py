"""The command-line behaviour every entrypoint shares: bad input is one line, never a traceback.

``run_command`` wraps an entrypoint: an ``NnsweepError`` anywhere (also inside Hydra, which
wraps what a sweeper or a job raises) becomes ``nnsweep: error: <one line>`` and exit 2; Ctrl-C
becomes one line and exit 130, and finished work stays on disk. For the Hydra entrypoints it
first composes the config once with Hydra's compose API and prints Hydra's multi-line error text
folded onto one line (``precheck``); multirun checks every value of every discrete sweep.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Callable, NoReturn

from nnsweep import conf
from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.arguments import (
    PlainPaths,
    check_hydra_flags,
    chosen_config,
    is_multirun_flag,
    with_paths_as_overrides,
)
from nnsweep.runrecord import BOOKKEEPING_KEYS

CONF_DIR = Path(conf.__file__).resolve().parent  # conf/ in a clone, nnsweep/conf/ in a wheel
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by SIGINT
INTERRUPTED = "interrupted; rerun the same command to continue (finished work is kept)"


_every_value_checked = False  # set by a multirun's precheck, read by its sweeper (same process)


def every_value_checked() -> bool:
    """Whether this process's ``precheck`` checked every value of every discrete sweep of its
    multirun (command line and the sweeper's params): a grid sweeper need not compose them again."""
    return _every_value_checked


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the line that says how to continue this particular command."""


def warn(message: str) -> None:
    """Print ``message`` as one warning line on stderr; the command goes on."""
    print(f"nnsweep: warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def fail(message: str, exit_code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``message`` as one line on stderr and exit (status 2: bad input)."""
    print(f"nnsweep: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(exit_code)


def fold_hydra_message(text: str) -> str:
    """Hydra's multi-line error text as one line, keeping what names the problem."""
    skip = (
        "full_key:",
        "reference_type=",
        "object_type=",
        "Config search path",
        "provider=",
        "Set the environment variable HYDRA_FULL_ERROR",
    )
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


def _first_value(override) -> str:
    """One value of a sweep override, as override text, so one config can be composed."""
    from hydra.core.override_parser.types import IntervalSweep

    sweep = override.value()
    if isinstance(sweep, IntervalSweep):
        return str(sweep.start)
    first = next(iter(override.sweep_string_iterator()), None)
    if first is None:
        raise NnsweepError(f"{override.input_line} has no values to sweep; give at least one")
    return first


def check_output_dir(cfg, key: str, given: bool) -> None:
    """Hydra creates the run/sweep directory ``key`` names (with its missing parents), and opens
    its log in it, before any of our code could report on it: check here that it can, creating
    nothing (a refused command leaves nothing behind, and the run notes what Hydra creates:
    ``nnsweep.experiments.ownfiles``). ``given``: the user set ``key`` (else it is the default, under the
    current directory)."""
    from omegaconf import OmegaConf

    try:
        path = Path(str(OmegaConf.select(cfg, key)))
    except Exception:  # noqa: BLE001 - a value only Hydra's job can resolve (${hydra:...}): Hydra checks it
        return
    fix = f"choose another {key}" if given else f"run from a writable directory, or pass {key}=<a writable directory>"
    limit = 255  # bytes in one name, on Linux's and macOS's file systems
    too_long = next((part for part in path.parts if len(part.encode()) > limit), None)
    if too_long is not None:
        raise NnsweepError(
            f"cannot create {path}: the name {too_long[:40]}... is longer than the file system's {limit} bytes; {fix}"
        )
    existing = next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())
    shown = "the current directory" if str(existing) == "." else str(existing)
    if not existing.is_dir():
        raise NnsweepError(f"cannot create {path}: {shown} is not a directory; {fix}")
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == path:
            raise NnsweepError(f"cannot write into {path}: permission denied or read-only; {fix}")
        where = f"{shown} ({Path.cwd()})" if shown == "the current directory" else shown
        raise NnsweepError(f"cannot create {path}: {where} is not writable (permission denied or read-only); {fix}")


def _value_check(config_name: str) -> Callable:
    """The check of values that types cannot express (ranges, option names), for the training
    config: a bad value in any point of a grid stops the command before anything trains."""
    if config_name != "config":
        return lambda cfg: None
    from nnsweep.experiments.build import check_trainer

    return check_trainer


def _check_every_value(config_name: str, cfg, plain: list[str], parsed: list, sweeps: list, check: Callable) -> None:
    """Check each distinct value of each discrete sweep, the other keys at their first value.

    A config group's value (``net=mlp,rashid``) is composed; a plain value
    (``optimizer.lr=0.1,0.3``) is set into the config composed once (``cfg``), as Hydra applies
    a value override after composing (``OmegaConf.update``, typed by the schema): the same check
    (a typo, a wrong type, a value out of range) at a small part of a composition's cost, which
    a grid of 1,000 values paid 1,000 times before its first run."""
    import copy

    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    loader, parser = GlobalHydra.instance().config_loader(), OverridesParser.create()
    task = copy.deepcopy(cfg)  # without Hydra's node: a tenth of the size to copy per value
    with open_dict(task):
        del task["hydra"]
    for i, override in enumerate(parsed):
        if override not in sweeps or override.is_interval_sweep():
            continue
        key = override.get_key_element()
        is_value = not (
            override.is_delete()
            or override.is_add()
            or override.is_force_add()
            or key.startswith("hydra")
            or loader.get_group_options(override.key_or_group)
        )
        for value in list(dict.fromkeys(override.sweep_string_iterator()))[1:]:
            if not is_value:
                check(compose(config_name, overrides=plain[:i] + [f"{key}={value}"] + plain[i + 1 :]))
                continue
            single, candidate = parser.parse_override(f"{key}={value}"), copy.deepcopy(task)
            try:
                OmegaConf.update(candidate, single.key_or_group, single.value(), merge=True)
            except OmegaConfBaseException as err:
                raise ConfigCompositionException(f"Error merging override {single.input_line}") from err
            check(candidate)


# Long on purpose: the steps of one composition (flags, sweeps to first values, every value, output directory, missing
# keys), in order, sharing the parsed overrides.
def precheck(config_name: str, argv: list[str]) -> None:
    """Compose the config as Hydra will, and turn a failure into one line and exit 2.

    In multirun mode each sweep is replaced by its first value for this check (every key and
    type is still checked, the sweeper's options included), then each of its other values is
    checked (``_check_every_value``), so a typo fails before any job starts; a search space that
    cannot be searched (an empty interval) is the sweeper's to refuse, also before any job.
    ``every_value_checked()`` then tells the sweeper, in this process, that it need not compose
    the grid's values again.
    """
    global _every_value_checked
    try:
        check_hydra_flags(argv)
    except NnsweepError as err:
        fail(str(err))
    multirun = any(is_multirun_flag(a) for a in argv)
    if multirun and config_name != "config":
        fail(f"-m (multirun) is for training sweeps; nnsweep {config_name} works on one run at a time")
    check = _value_check(config_name)
    config_name, argv = chosen_config(config_name, argv)
    args = [a for a in argv if not is_multirun_flag(a)]
    if any(a.startswith("-") for a in args):
        return  # --help, --cfg, --info ...: Hydra's own handling
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from nnsweep.experiments.config import register_configs

    register_configs()
    try:
        parsed = OverridesParser.create().parse_overrides(args)
        sweeps = [o for o in parsed if o.is_sweep_override()]
        plain = [f"{o.get_key_element()}={_first_value(o)}" if o in sweeps else o.input_line for o in parsed]
        if not multirun:
            plain = args  # sweep syntax without -m must fail, with Hydra's hint to add --multirun
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name, overrides=plain, return_hydra_config=True)
            if multirun:  # the sweeper's own params (a conf/search file) count as sweeps too
                given = {o.get_key_element() for o in parsed}
                params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items() if k not in given]
                extra = OverridesParser.create().parse_overrides(params)
                parsed, sweeps = parsed + extra, sweeps + [o for o in extra if o.is_sweep_override()]
                plain = plain + [
                    f"{o.get_key_element()}={_first_value(o)}" if o.is_sweep_override() else o.input_line for o in extra
                ]
                swept = [o.get_key_element() for o in sweeps if o.get_key_element() in BOOKKEEPING_KEYS]
                if swept:
                    raise NnsweepError(
                        f"{swept[0]} cannot be swept: it says how runs are driven, not what they compute; "
                        "run one command per value"
                    )
                cfg = compose(config_name, overrides=plain, return_hydra_config=True)
            check(cfg)
            if multirun:
                _check_every_value(config_name, cfg, plain, parsed, sweeps, check)
                _every_value_checked = True
        from omegaconf import OmegaConf

        where = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        check_output_dir(cfg, where, given=any(o.get_key_element() == where for o in parsed))
        task = {k: v for k, v in cfg.items() if k != "hydra"}  # Hydra's own node holds job-time values
        missing = sorted(OmegaConf.missing_keys(OmegaConf.create(task)))
        if missing:
            raise NnsweepError(f"missing {' '.join(k + '=...' for k in missing)} (see --help)")
        sweeper = cfg.hydra.sweeper
        engine = getattr(sweeper.get("engine"), "value", sweeper.get("engine"))
        searches = str(sweeper.get("_target_", "")).endswith(("NnsweepSweeper", "SkoptSweeper")) and engine != "grid"
        intervals = [o.input_line for o in sweeps if o.is_interval_sweep()]
        if multirun and intervals and not searches:
            raise NnsweepError(
                f"{intervals[0]} is a search interval, which only a search engine can sample, not a "
                "grid: use hydra/sweeper=nnsweep with hydra.sweeper.engine=tpe|gp|rf|et|random, or "
                "hydra/sweeper=skopt, or list the values to try (key=a,b,c)"
            )
    except NnsweepError as err:
        fail(str(err))
    except Exception as err:  # Hydra raises several unrelated types; all mean bad input here
        message = fold_hydra_message(_message_chain(err))
        unquoted = next((a for a in args if "=" in a.partition("=")[2] and a.partition("=")[2][:1] not in "'\"["), None)
        if unquoted is not None and "mismatched input '='" in message:
            key, _, value = unquoted.partition("=")
            message = (
                f"{unquoted}: a value with = or , in it (a sweep's run directory) must be quoted for Hydra: "
                f"{key}='{value}' (in a shell: \"{key}='{value}'\")"
            )
        fail(message)
    finally:
        GlobalHydra.instance().clear()


def _nnsweep_error(err: BaseException) -> NnsweepError | None:
    """The project error behind ``err``, looking through the exceptions Hydra wraps it in."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, NnsweepError):
            return err
        err = err.__cause__ or err.__context__
    return None


def _is_hydra_error(err: BaseException) -> bool:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(err, (HydraException, OmegaConfBaseException))


def exits_on_bad_input(task: Callable) -> Callable:
    """Decorate a Hydra task function so that bad input ends it with one line and exit 2 inside
    the job: an exception leaving a job makes Hydra print its own "Error executing job" line."""

    @functools.wraps(task)
    def task_with_one_line_errors(cfg):
        try:
            return task(cfg)
        except NnsweepError as err:
            fail(str(err), err.exit_code)

    return task_with_one_line_errors


def run_command(
    main: Callable[[], object], hydra_config: str | None = None, plain_paths: PlainPaths | None = None
) -> None:
    """Run an entrypoint's ``main`` with the project's error handling (see the module docstring);
    an int it returns is the exit status.

    ``hydra_config`` names the primary config of a ``@hydra.main`` entrypoint: it is composed
    once up front (``precheck``), and Hydra is told to let exceptions through to here.
    ``plain_paths``: the command's path arguments, given plain (``with_paths_as_overrides``)."""
    from nnsweep.experiments.startup import ended, interrupted_before, started

    try:
        started()  # from here Ctrl-C is a KeyboardInterrupt, answered below
        if plain_paths is not None:
            sys.argv[1:] = with_paths_as_overrides(sys.argv[1:], plain_paths)
        if hydra_config is not None:
            precheck(hydra_config, sys.argv[1:])
            os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of printing a trace
        result = main()
    except BrokenPipeError:
        # The reader of the output went away (``nnsweep ... | head``): nothing more to tell it, and
        # Python's own flush at exit would fail again: point stdout at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt as err:
        ended()  # the line below is the last: no second answer to Ctrl-C
        print(f"nnsweep: {err if isinstance(err, Interrupted) else INTERRUPTED}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        if interrupted_before():  # the interrupt's doing, whatever it broke on the way (startup)
            ended()
            print(f"nnsweep: {INTERRUPTED}", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)
        known = _nnsweep_error(err)
        if known is not None:
            fail(str(known), known.exit_code)
        if _is_hydra_error(err):
            fail(fold_hydra_message(_message_chain(err)))
        if isinstance(err, OSError) and err.filename is not None:
            # A file system that refuses what its permission bits allow (/sys, even to root): Hydra
            # makes the run directory itself, after the precheck (check_output_dir) found it could.
            from nnsweep.core.atomic import write_error

            fail(str(write_error(Path(os.path.abspath(err.filename)), err)))
        raise
    if isinstance(result, int):
        sys.exit(result)
