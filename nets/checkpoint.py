"""Checkpoints: one ``.npz`` holding weights, architecture and training state.

Layout of the archive (all plain arrays, so it loads with ``allow_pickle=False``)::

    meta            0-d unicode array: JSON with format, architecture, optimizer, schedule,
                    train state, rng state, and any caller extras
    param/<key>     network parameters, keyed "<layer index>.<name>"
    opt/<key>       optimizer state (moments, step count)
    best/<key>      parameters of the best validation epoch, if kept

Writes are atomic (temporary file in the same directory, fsync, rename), so a crash or a full
disk leaves the previous checkpoint intact rather than half a new one. Loading never unpickles:
a file carrying a pickled object array is refused. Nor does it trust sizes: a member the layout
above does not name is never read, and each known member's declared dtype and shape must be what
the architecture in ``meta`` implies before its data is read, so a crafted file cannot make a
loader allocate more than the model needs.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnsweep.core.atomic import atomic_write
from nnsweep.core.errors import NnsweepError
from nnsweep.nets.layers import ShapeError
from nnsweep.nets.network import Network, check_fits_in_memory, planned_shapes
from nnsweep.nets.optimizers import OPTIMIZERS, Optimizer
from nnsweep.nets.schedules import Schedule
from nnsweep.nets.train import TrainState

FORMAT = "nnsweep-checkpoint"
ZIP_SIGNATURE = b"PK\x03\x04"
VERSION = 1
# The metadata is JSON of a few kilobytes plus one record per epoch; anything near this is not ours.
META_MAX_BYTES = 16 * 2**20
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


class CheckpointError(NnsweepError, ValueError):
    """A checkpoint that cannot be read or does not fit the network asked for."""


def save_checkpoint(
    path: str | os.PathLike,
    network: Network,
    *,
    optimizer: Optimizer | None = None,
    schedule: Schedule | None = None,
    state: TrainState | None = None,
    rng: np.random.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write everything needed to use the network, or to continue training it exactly."""
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": network.architecture(),
        "dtype": network.dtype.name,
        "extra": extra or {},
    }
    arrays = {f"param/{k}": v for k, v in network.get_params().items()}
    if optimizer is not None:
        meta["optimizer"] = {"name": optimizer.name, **optimizer.hyperparameters()}
        arrays.update({f"opt/{k}": v for k, v in optimizer.state_dict().items()})
    if schedule is not None:
        meta["schedule"] = {"name": schedule.name, "state": schedule.state_dict()}
    if state is not None:
        meta["train_state"] = state.to_json()
        if state.best_params is not None:
            arrays.update({f"best/{k}": v for k, v in state.best_params.items()})
    if rng is not None:
        meta["rng"] = rng.bit_generator.state
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))


@dataclass
class Checkpoint:
    """A loaded checkpoint: its metadata and arrays grouped by prefix."""

    path: Path
    meta: dict[str, Any]
    params: dict[str, np.ndarray]
    optimizer_state: dict[str, np.ndarray]
    best_params: dict[str, np.ndarray]

    @property
    def architecture(self) -> dict[str, Any]:
        return self.meta["architecture"]


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint without unpickling anything; every failure is a ``CheckpointError``.

    Memory stays bounded by what the stored architecture needs, whatever the file claims:
    only the members this format defines are read, and each one's .npy header (dtype and shape)
    is checked against the architecture in ``meta`` before its data is. Every member's header
    (a few hundred bytes) is looked at, so a pickled object array anywhere is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train a model first or check the path")
    with open(path, "rb") as f:
        signature = f.read(4)
    if signature != ZIP_SIGNATURE:
        # np.load would take any non-zip file for a pickle; say what it really is.
        raise CheckpointError(
            f"checkpoint {path} is truncated or not an .npz archive (no zip signature); "
            "retrain or restore it from a copy"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_checkpoint(path, archive)
    # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as err:
        raise CheckpointError(
            f"checkpoint {path} is truncated or not an .npz archive ({type(err).__name__}: {err}); "
            "retrain or restore it from a copy"
        ) from None


def _read_checkpoint(path: Path, archive: zipfile.ZipFile) -> Checkpoint:
    headers = {name: _read_header(path, archive, name) for name in archive.namelist()}
    if "meta.npy" not in headers:
        raise CheckpointError(f"{path} is an .npz file but not an nnsweep checkpoint (no 'meta' entry)")
    meta = _read_meta(path, archive, headers["meta.npy"])
    arrays = {}
    for name, want in _expected_members(path, meta).items():
        member = f"{name}.npy"
        if member not in headers:
            continue  # a missing parameter is reported by whoever needs it (restore_network)
        shape, dtype = headers[member]
        fits = shape == want[0] and (dtype == want[1] if want[1] is not None else dtype.kind in "iu")
        if not fits:
            needed = f"{want[1] or 'an integer'} {want[0]}"
            raise CheckpointError(
                f"checkpoint {path} is damaged: {name} is declared {dtype} {shape}, but its architecture "
                f"needs {needed}; retrain or restore it from a copy"
            )
        arrays[name] = _read_array(path, archive, member)

    def group(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

    return Checkpoint(path, meta, group("param/"), group("opt/"), group("best/"))


def _read_header(path: Path, archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype a member's .npy header declares, reading only the header."""
    with archive.open(member) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in NPY_HEADER_READERS:
                raise ValueError(f".npy format version {version[0]}.{version[1]}")
            shape, _, dtype = NPY_HEADER_READERS[version](f)
        except ValueError as err:
            raise CheckpointError(
                f"checkpoint {path} has a member {member} that is not a plain NumPy array ({err}); "
                "retrain or restore it from a copy"
            ) from None
    if dtype.hasobject:
        raise CheckpointError(
            f"checkpoint {path} contains a pickled object array, which could run code when "
            "loaded; refusing it. Only checkpoints written by nnsweep are accepted"
        )
    return tuple(shape), dtype


def _read_array(path: Path, archive: zipfile.ZipFile, member: str) -> np.ndarray:
    """A member whose header has been checked (``read_array`` reads it again, then the data)."""
    with archive.open(member) as f:
        try:
            return np.lib.format.read_array(f, allow_pickle=False)
        except ValueError as err:
            raise CheckpointError(f"checkpoint {path} is damaged: {member} ({err}); retrain or restore it") from None


def _read_meta(path: Path, archive: zipfile.ZipFile, header: tuple[tuple[int, ...], np.dtype]) -> dict[str, Any]:
    """The metadata: one JSON object, stored as a 0-d unicode array of bounded size."""
    shape, dtype = header
    if shape != () or dtype.kind != "U" or dtype.itemsize > META_MAX_BYTES:
        raise CheckpointError(
            f"checkpoint {path} has metadata that is not one JSON text of at most "
            f"{META_MAX_BYTES // 2**20} MB (it is {dtype} {shape}); retrain or restore it from a copy"
        )
    try:
        meta = json.loads(str(_read_array(path, archive, "meta.npy")))
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise CheckpointError(f"checkpoint {path} has unreadable metadata; retrain or restore it") from None
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"checkpoint {path} has metadata that is a JSON {JSON_TYPES.get(type(meta), type(meta).__name__)}, "
            "not an object; retrain or restore it from a copy"
        )
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an nnsweep checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has version {meta.get('version')}, this nnsweep reads {VERSION}")
    return meta


def _expected_members(path: Path, meta: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], np.dtype | None]]:
    """Every array name this checkpoint may hold, with the shape and dtype its metadata implies
    (dtype None: any integer). Checks that the architecture fits in memory."""
    try:
        architecture = meta.get("architecture")
        if not isinstance(architecture, dict):
            raise TypeError(f"it is a {type(architecture).__name__}, not an object")
        shapes, state = planned_shapes(architecture)  # the parameters; the layers' state (running statistics)
        dtype = np.dtype(meta.get("dtype", "float32"))
        if dtype.kind != "f":
            raise TypeError(f"parameters of dtype {dtype} are not floating point")
    except KeyError as err:
        raise CheckpointError(
            f"checkpoint {path} has an unusable architecture (no {err} in it); retrain or restore it from a copy"
        ) from None
    except (ValueError, TypeError, OverflowError) as err:  # OverflowError: JSON's Infinity as a size
        raise CheckpointError(
            f"checkpoint {path} has an unusable architecture ({err}); retrain or restore it from a copy"
        ) from None
    try:
        check_fits_in_memory(
            sum(math.prod(s) for s in shapes.values()), dtype, fix="load it on a machine with more memory"
        )
    except ShapeError as err:
        raise CheckpointError(f"checkpoint {path} cannot be loaded here: {err}") from None
    expected: dict[str, tuple[tuple[int, ...], np.dtype | None]] = {}
    for prefix in ("param/", "best/"):
        expected.update({prefix + key: (shape, dtype) for key, shape in {**shapes, **state}.items()})
    if "optimizer" in meta:
        name = meta["optimizer"].get("name") if isinstance(meta["optimizer"], dict) else None
        if not isinstance(name, str) or name not in OPTIMIZERS:
            raise CheckpointError(
                f"checkpoint {path} names no known optimizer ({meta['optimizer']!r:.60}); "
                "retrain or restore it from a copy"
            )
        for state in OPTIMIZERS[name].state_names:
            expected.update({f"opt/{state}.{i}": (shape, dtype) for i, shape in enumerate(shapes.values())})
        expected["opt/t"] = ((), None)
    return expected


def _describe_difference(want: dict, have: dict) -> str:
    """A short human description of how two architectures differ."""
    if want.get("input_shape") != have.get("input_shape"):
        return f"input shape {have.get('input_shape')} vs {want.get('input_shape')}"
    if want.get("loss") != have.get("loss"):
        return f"loss {have.get('loss')} vs {want.get('loss')}"
    wl, hl = want.get("layers", []), have.get("layers", [])
    if len(wl) != len(hl):
        return f"{len(hl)} layers vs {len(wl)}"
    for i, (w, h) in enumerate(zip(wl, hl)):
        if w != h:
            return f"layer {i}: {h} vs {w}"
    return "parameters differ"


def restore_network(checkpoint: Checkpoint, network: Network, use_best: bool = False) -> None:
    """Copy the checkpoint's parameters into ``network``, refusing a different architecture."""
    want, have = network.architecture(), checkpoint.architecture
    if want != have:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} holds a different network ({_describe_difference(want, have)}, "
            "checkpoint vs requested); use the matching net= settings or start a fresh run"
        )
    params = checkpoint.best_params if use_best and checkpoint.best_params else checkpoint.params
    try:
        network.set_params(params)
    except ValueError as err:
        raise CheckpointError(f"checkpoint {checkpoint.path} is damaged: {err}") from None


def load_network(path: str | os.PathLike, use_best: bool = False) -> Network:
    """Rebuild the network stored in a checkpoint (for evaluation, prediction, reports)."""
    checkpoint = load_checkpoint(path)
    try:
        network = Network(
            checkpoint.architecture, np.random.default_rng(0), dtype=checkpoint.meta.get("dtype", "float32")
        )
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint {path} has an unusable architecture: {err}") from None
    restore_network(checkpoint, network, use_best=use_best)
    return network


def restore_training(
    checkpoint: Checkpoint,
    network: Network,
    optimizer: Optimizer,
    schedule: Schedule,
    rng: np.random.Generator,
) -> TrainState:
    """Put network, optimizer, schedule and generator back where the checkpoint left them, and
    return the train state to pass to ``fit(state=...)``."""
    for needed in ("train_state", "rng", "optimizer"):
        if needed not in checkpoint.meta:
            raise CheckpointError(f"checkpoint {checkpoint.path} holds a model only, no training state to resume from")
    restore_network(checkpoint, network)
    saved_opt = checkpoint.meta["optimizer"]["name"]
    if saved_opt != optimizer.name:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} was trained with optimizer {saved_opt}, not {optimizer.name}; "
            "resume with the same optimizer or start a fresh run"
        )
    if not optimizer.bound:
        optimizer.bind(network.parameters())
    try:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"checkpoint {checkpoint.path} has damaged optimizer state: {err}") from None
    try:
        schedule.load_state_dict(checkpoint.meta.get("schedule", {}).get("state", {}))
        rng.bit_generator.state = checkpoint.meta["rng"]
        state = TrainState.from_json(checkpoint.meta["train_state"])
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} has damaged training state ({type(err).__name__}: {err}); "
            "restore it from a copy or start a fresh run"
        ) from None
    state.best_params = {k: v.copy() for k, v in checkpoint.best_params.items()} or None
    return state
