"""A composed config checked against its typed schema (``nnsweep.experiments.config``) for what the
types alone cannot say: an option's keys belong to the option chosen, and each number is in
its range. ``nnsweep.experiments.build.check_trainer`` asks before anything is built or trained.
"""

from __future__ import annotations

import math
import typing
from dataclasses import fields
from functools import cache
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from nnsweep.experiments.config import OPTION_SCHEMAS, Config, DataConfig, TrainerConfig

FIXED_SCHEMAS = {"data": DataConfig, "trainer": TrainerConfig}


def invalid_setting(cfg: Any) -> str | None:
    """The first setting of a composed config that cannot work, as one line, or None.

    Walks every group node against its schema: the key naming the option must name a known one
    and match the schema the node was composed with; every key must belong to the option (a
    key added with ``+`` escapes Hydra's check); every ranged number must lie in its ``Range``.
    """
    for group, node in cfg.items():
        if group == "hydra":  # Hydra's own node, when composed with return_hydra_config
            continue
        if group in OPTION_SCHEMAS:
            problem = _option_problem(group, node)
            if problem:
                return problem
            key, options = OPTION_SCHEMAS[group]
            schema, option = options[node[key]], f"{group}={node[key]}"
        elif group in FIXED_SCHEMAS:
            schema, option = FIXED_SCHEMAS[group], group
        elif group in _field_names(Config):
            continue
        else:
            return f"{group} is not a setting of nnsweep; remove it (settings: {', '.join(_field_names(Config))})"
        problem = _foreign_key(group, node, schema, option) or _range_problem(group, node, schema)
        if problem:
            return problem
    return None


def _option_problem(group: str, node: Any) -> str | None:
    key, options = OPTION_SCHEMAS[group]
    name = node.get(key)
    if name not in options:
        return f"{group}.{key}={name} is not an option; choose {group}=<one of the files in conf/{group}/>"
    composed = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    chosen = next((n for n, schema in options.items() if schema is composed), name)
    if chosen != name:
        return (
            f"{group}.{key}={name} does not match {group}={chosen}, whose keys this node has; "
            f"choose {group}={name} instead of setting {group}.{key}"
        )
    return None


def _foreign_key(group: str, node: Any, schema: type, option: str) -> str | None:
    allowed = _field_names(schema)
    for key in node:
        if key not in allowed:
            return f"{group}.{key} does not apply to {option}; its keys are {', '.join(allowed)}"
    for key in allowed:
        if key not in node:
            return f"{group}.{key} is missing; {option} needs {', '.join(allowed)}"
    return None


def _range_problem(group: str, node: Any, schema: type) -> str | None:
    for f in fields(schema):
        allowed, value = f.metadata.get("range"), node[f.name]
        if allowed is None or value is None:
            continue
        if isinstance(value, ListConfig):
            value = OmegaConf.to_container(value)
        values = value if isinstance(value, list) else [value]
        if all(allowed.allows(v) for v in values):
            continue
        what = f"a list of numbers each {allowed}" if isinstance(value, list) else str(allowed)
        optional = " or null" if _optional(schema, f.name) else ""
        finite = "" if all(math.isfinite(v) for v in values) else " (nan and inf are never allowed)"
        why = f": {allowed.why}" if allowed.why else ""
        return f"{group}.{f.name} must be {what}{optional}, got {value}{finite}{why}"
    return None


@cache
def _field_names(schema: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(schema))


@cache
def _optional(schema: type, name: str) -> bool:
    return type(None) in typing.get_args(typing.get_type_hints(schema)[name])
