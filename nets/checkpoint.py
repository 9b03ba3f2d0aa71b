"""Checkpoints: one ``.npz`` holding weights, architecture and training state.

Layout of the archive (all plain arrays, so it loads with ``allow_pickle=False``)::

    meta            0-d unicode array: JSON with format, architecture, optimizer, schedule,
                    train state, rng state, and any caller extras
    param/<key>     network parameters, keyed "<layer index>.<name>"
    opt/<key>       optimizer state (moments, step count)
    best/<key>      parameters of the best validation epoch, if kept

Writes are atomic (temporary file in the same directory, fsync, rename), so a crash or a full
disk leaves the previous checkpoint intact rather than half a new one. Loading never unpickles:
a file carrying a pickled object array is refused.
"""
from __future__ import annotations

from nets.errors import NnsweepError
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nets.atomic import atomic_write
from nets.network import Network
from nets.optimizers import Optimizer
from nets.schedules import Schedule
from nets.train import TrainState

FORMAT = "nnsweep-checkpoint"
ZIP_SIGNATURE = b"PK\x03\x04"
VERSION = 1


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
        "architecture": network.describe(),
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
    """Read a checkpoint without unpickling anything; every failure is a ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train a model first or check the path")
    with open(path, "rb") as f:
        signature = f.read(4)
    if signature != ZIP_SIGNATURE:
        # np.load would take any non-zip file for a pickle; say what it really is.
        raise CheckpointError(f"checkpoint {path} is truncated or not an .npz archive (no zip signature); "
                              "retrain or restore it from a copy")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise CheckpointError(
                f"checkpoint {path} contains a pickled object array, which could run code when "
                "loaded; refusing it. Only checkpoints written by nnsweep are accepted"
            ) from None
        raise CheckpointError(f"checkpoint {path} is not a valid .npz file ({err}); retrain or restore it") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as err:
        raise CheckpointError(
            f"checkpoint {path} is truncated or not an .npz archive ({type(err).__name__}: {err}); "
            "retrain or restore it from a copy"
        ) from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is an .npz file but not an nnsweep checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata; retrain or restore it") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an nnsweep checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has version {meta.get('version')}, this nnsweep reads {VERSION}")

    def group(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    return Checkpoint(path, meta, group("param/"), group("opt/"), group("best/"))


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
    want, have = network.describe(), checkpoint.architecture
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
        network = Network(checkpoint.architecture, np.random.default_rng(0), dtype=checkpoint.meta.get("dtype", "float32"))
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
    if not optimizer._params:
        optimizer.bind(network.parameters())
    try:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"checkpoint {checkpoint.path} has damaged optimizer state: {err}") from None
    schedule.load_state_dict(checkpoint.meta.get("schedule", {}).get("state", {}))
    rng.bit_generator.state = checkpoint.meta["rng"]
    state = TrainState.from_json(checkpoint.meta["train_state"])
    state.best_params = {k: v.copy() for k, v in checkpoint.best_params.items()} or None
    return state
