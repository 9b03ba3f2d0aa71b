"""Bounded reading of record files (JSON and YAML): a record is data, read with limits.

A run's or a sweep's records are written by nnsweep, but anyone can edit them, and a folder of
runs may come from elsewhere. Python's readers trust their input: ``json.loads`` recurses once
per nesting level (``RecursionError``) and turns a 401-digit integer into a number no float can
hold (``OverflowError`` later); PyYAML expands aliases, so 1 KB of ``&a [*a, *a, ...]`` grows
to gigabytes; ``OmegaConf`` evaluates ``${oc.env:SECRET}`` when a value is read. Every record is
therefore read here, with a size limit, a depth limit and a limit on the digits of a number;
YAML with the safe loader and no anchors or aliases (nnsweep writes none); and strings kept as
strings (``escape_interpolations`` before a recorded config becomes a ``DictConfig``).

A record that breaks a limit raises ``RecordFormatError`` (a ``ValueError``) whose message is
the reason; each reader turns it into its own one-line error naming the file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

MAX_RECORD_BYTES = 64_000_000  # a trial log of 10,000 trials is a few MB; a summary is 1 KB
MAX_DEPTH = 32  # the deepest record (a trial log's rounds) nests 5 levels
MAX_DIGITS = 40  # a seed or a count has at most 20 digits; 10**40 is still a float


class RecordFormatError(ValueError):
    """A record that breaks a limit or holds what no record holds; ``str()`` is the reason."""


def read_record_text(path: Path, limit: int = MAX_RECORD_BYTES) -> str:
    """The file's text, refused past ``limit`` bytes before more is read (``OSError`` and
    ``UnicodeDecodeError`` pass through: the caller names the file)."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RecordFormatError(f"it is over {limit:,} bytes, far more than any record")
    return data.decode("utf-8")


# ----- JSON ----------------------------------------------------------------------------------
def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise RecordFormatError(f"it holds an integer of {len(text.lstrip('-'))} digits (at most {MAX_DIGITS})")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise RecordFormatError(f"it holds the number {text[:30]}, beyond what a float holds")
    return value


def _refuse_constant(name: str) -> float:
    raise RecordFormatError(f"it holds {name}, which JSON records never hold (a missing number is null)")


def parse_json(text: str, allow_nan: bool = False) -> Any:
    """JSON ``text`` as data, refusing nesting deeper than ``MAX_DEPTH``, integers longer than
    ``MAX_DIGITS``, numbers beyond a float and (unless ``allow_nan``: a record written by
    Python's default ``json.dumps``) NaN and Infinity."""
    _check_json_depth(text)
    constant = float if allow_nan else _refuse_constant
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=constant)
    except RecordFormatError:
        raise
    except RecursionError:  # unreachable after the depth check; kept as the last guard
        raise RecordFormatError(f"it nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:
        raise RecordFormatError(f"not valid JSON: {' '.join(str(err).split())[:160]}") from None


def _check_json_depth(text: str) -> None:
    """Refuse nesting past ``MAX_DEPTH`` before the recursive parser sees it, in time linear in
    the text (a body of 1 MB is checked in milliseconds): escapes are dropped first, so a string
    is a quote, no quote, a quote; brackets inside strings are skipped. (One pattern for strings
    with their escapes took quadratic time on an unterminated string of ``\\"``, holding the
    interpreter for the server's every thread.) A malformed text is left for the parser to name."""
    depth = 0
    for token in _JSON_NESTING.finditer(_JSON_ESCAPE.sub("", text)):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise RecordFormatError(f"it nests deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1


_JSON_ESCAPE = re.compile(r"\\.", re.DOTALL)  # a backslash and the character it escapes
_JSON_NESTING = re.compile(r'"[^"]*"|[\[\]{}]')  # a string without escapes, or a bracket


# ----- YAML ----------------------------------------------------------------------------------
class _RecordLoader(yaml.SafeLoader):
    """PyYAML's safe loader (plain data only, no Python objects) without anchors and aliases,
    with a depth limit and bounded numbers."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001 (PyYAML's signature)
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise RecordFormatError("it holds a YAML anchor or alias (&name, *name), which records never hold")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise RecordFormatError(f"it nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node):  # noqa: ANN001
        digits = re.sub(r"[^0-9a-fA-F]", "", str(node.value))
        if len(digits) > MAX_DIGITS:
            raise RecordFormatError(f"it holds an integer of {len(digits)} digits (at most {MAX_DIGITS})")
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):  # noqa: ANN001
        if len(str(node.value)) > 4 * MAX_DIGITS:
            raise RecordFormatError(f"it holds a number of {len(str(node.value))} characters")
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):  # .inf, .nan, 1.0e+400: as the JSON reader, no record holds one
            raise RecordFormatError(
                f"it holds the number {str(node.value)[:30]}, which no record holds (a missing number is null)"
            )
        return value

    def construct_mapping(self, node, deep=False):  # noqa: ANN001
        mapping = super().construct_mapping(node, deep=deep)
        for key in mapping:
            if not isinstance(key, str):
                raise RecordFormatError(
                    f"it holds the key {str(key)[:40]!r} ({type(key).__name__}), where a record's keys are names"
                )
        return mapping

    def construct_not_data(self, node):  # noqa: ANN001
        """Dates, sets, binary and ordered pairs: YAML types that are no JSON-like data (OmegaConf
        and JSON refuse them later, far from the file), refused here, where the file is named."""
        kind = node.tag.rsplit(":", 1)[-1]
        shown = f"{node.value[:30]!r} " if isinstance(node, yaml.ScalarNode) else ""
        raise RecordFormatError(
            f"it holds a YAML {kind} ({shown}at line {node.start_mark.line + 1}), "
            "where a record holds only strings, numbers, true/false, null, lists and mappings"
        )


_RecordLoader.add_constructor("tag:yaml.org,2002:int", _RecordLoader.construct_yaml_int)
_RecordLoader.add_constructor("tag:yaml.org,2002:float", _RecordLoader.construct_yaml_float)
for _tag in ("timestamp", "set", "binary", "omap", "pairs"):
    _RecordLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _RecordLoader.construct_not_data)


def parse_yaml(text: str) -> Any:
    """YAML ``text`` as JSON-like data (dicts with string keys, lists, strings, finite numbers,
    booleans, null), refusing anchors and aliases, nesting deeper than ``MAX_DEPTH``, integers
    longer than ``MAX_DIGITS``, non-finite numbers, dates, sets, binary and other keys."""
    try:
        return yaml.load(text, Loader=_RecordLoader)  # noqa: S506 (a SafeLoader subclass)
    except RecordFormatError:
        raise
    except RecursionError:
        raise RecordFormatError(f"it nests deeper than {MAX_DEPTH} levels") from None
    except (yaml.YAMLError, ValueError) as err:
        raise RecordFormatError(" ".join(str(err).split())[:200]) from None


# ----- recorded configs ----------------------------------------------------------------------
def escape_interpolations(value: Any) -> Any:
    """``value`` with every ``${`` in its strings escaped for OmegaConf, so a recorded config
    made a ``DictConfig`` reads ``${oc.env:SECRET}`` as those characters, never as the secret:
    a record is what was recorded, not something to evaluate. (OmegaConf reads ``\\${`` as
    ``${`` and ``\\\\`` before ``${`` as one backslash.)"""
    if isinstance(value, dict):
        return {k: escape_interpolations(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_interpolations(v) for v in value]
    if isinstance(value, str) and "${" in value:
        return re.sub(r"(\\*)\$\{", lambda m: m.group(1) * 2 + "\\${", value)
    return value
