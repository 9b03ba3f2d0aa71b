"""Checkpoints: round trips, exact resume, refusal of damaged, foreign and pickled files, and of
crafted files that would make loading allocate far more memory than the model needs."""

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from nnsweep.core.atomic import atomic_write
from nnsweep.nets.architectures import lenet5, mlp
from nnsweep.nets.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_network,
    restore_network,
    restore_training,
    save_checkpoint,
)
from nnsweep.nets.data.augment import Augmenter
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import make_optimizer
from nnsweep.nets.schedules import make_schedule
from nnsweep.nets.train import LabelledData, TrainState, fit, target_matrix


class Interrupted(Exception):
    pass


def setup(desc, seed=7):
    rng = np.random.default_rng(seed)
    net = Network(desc, rng)
    return net, make_optimizer("adam", lr=1e-3), make_schedule("plateau", 1e-3, patience=1), rng


def run(data, path, stop_after=None, resume=False, epochs=4):
    desc = mlp([24], "relu", dropout=0.1)
    net, opt, sched, rng = setup(desc)
    state = None
    if resume:
        state = restore_training(load_checkpoint(path), net, opt, sched, rng)

    def on_epoch_end(record, st):
        save_checkpoint(path, net, optimizer=opt, schedule=sched, state=st, rng=rng)
        if stop_after is not None and st.epoch == stop_after:
            raise Interrupted

    state = fit(
        net,
        opt,
        sched,
        data["train"],
        data["val"],
        epochs=epochs,
        batch_size=16,
        rng=rng,
        targets=target_matrix(10),
        augment=Augmenter(),
        state=state,
        on_epoch_end=on_epoch_end,
    )
    return net, state


@pytest.fixture(scope="module")
def small(mnist5k):
    idx = np.random.default_rng(0).permutation(len(mnist5k.train))[:400]
    return {"train": LabelledData(mnist5k.train.x[idx], mnist5k.train.labels[idx]), "val": mnist5k.val}


def test_round_trip_gives_identical_predictions(tmp_path, mnist5k):
    net = Network(lenet5(), np.random.default_rng(1))
    save_checkpoint(tmp_path / "m.npz", net)
    again = load_network(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.predict_proba(mnist5k.val.x[:50]), net.predict_proba(mnist5k.val.x[:50]))
    assert again.architecture() == net.architecture()


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, small):
    net_a, state_a = run(small, tmp_path / "a.npz")
    with pytest.raises(Interrupted):
        run(small, tmp_path / "b.npz", stop_after=2)
    assert load_checkpoint(tmp_path / "b.npz").meta["train_state"]["epoch"] == 2
    net_b, state_b = run(small, tmp_path / "b.npz", resume=True)
    strip = lambda s: [(r.epoch, r.lr, r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in s.records]
    assert strip(state_a) == strip(state_b)
    assert (state_a.status, state_a.best_epoch) == (state_b.status, state_b.best_epoch)
    for k, v in net_a.get_params().items():
        np.testing.assert_array_equal(v, net_b.get_params()[k])


def test_other_architecture_is_refused(tmp_path):
    save_checkpoint(
        tmp_path / "m.npz",
        Network(
            mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal"),
            np.random.default_rng(0),
        ),
    )
    other = Network(mlp([100], "sigmoid", loss="quadratic", init="normal_fan_in", bias=False), np.random.default_rng(0))
    with pytest.raises(CheckpointError, match=r"different network \(layer 0.*net="):
        restore_network(load_checkpoint(tmp_path / "m.npz"), other)


def test_model_only_checkpoint_cannot_resume(tmp_path):
    net, opt, sched, rng = setup(
        mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal")
    )
    save_checkpoint(tmp_path / "m.npz", net)
    with pytest.raises(CheckpointError, match="no training state"):
        restore_training(load_checkpoint(tmp_path / "m.npz"), net, opt, sched, rng)


def test_damaged_and_foreign_files_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    save_checkpoint(
        good,
        Network(
            mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal"),
            np.random.default_rng(0),
        ),
    )
    data = good.read_bytes()
    cases = {
        "truncated.npz": data[: len(data) // 2],
        "text.npz": b"this is not a checkpoint\n",
        "empty.npz": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not an nnsweep checkpoint"):
        load_checkpoint(tmp_path / "plain.npz")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.npz")


def test_pickled_object_array_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    meta = json.dumps({"format": "nnsweep-checkpoint", "version": 1, "architecture": {}})
    np.savez(tmp_path / "evil.npz", meta=np.array(meta), payload=np.array([Exploit()], dtype=object))
    with pytest.raises(CheckpointError, match="pickled object array"):
        load_checkpoint(tmp_path / "evil.npz")
    assert not marker.exists()


def test_failed_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"previous")

    def half_then_fail(f):
        f.write(b"half of a new file")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind


def npy_bytes(array=None, *, dtype=None, shape=None, data=b"") -> bytes:
    """A whole .npy member for ``array``, or a header declaring ``dtype`` and ``shape`` then ``data``."""
    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    else:
        header = {"descr": dtype, "fortran_order": False, "shape": shape}  # written as given, even if absurd
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(data)
    return buffer.getvalue()


def rewrite(path, members: dict[str, bytes]) -> None:
    """Replace (or add) whole .npy members of the .npz at ``path``, keyed by array name."""
    with zipfile.ZipFile(path) as old:
        kept = {info.filename: old.read(info) for info in old.infolist()}
    kept.update({f"{name}.npy": content for name, content in members.items()})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, content in kept.items():
            new.writestr(name, content)


@pytest.fixture
def saved(tmp_path):
    """A model-only nielsen checkpoint (784-30-10, float32) and its metadata."""
    path = tmp_path / "model.npz"
    save_checkpoint(
        path,
        Network(
            mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal"),
            np.random.default_rng(0),
        ),
    )
    return path, load_checkpoint(path).meta


def test_an_unknown_member_is_never_read(saved):
    path, _ = saved
    size = 200 * 2**20  # 200 MB of zeros: a member a few hundred KB long once compressed
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("junk.npy", "w") as member:
            member.write(npy_bytes(dtype="<f8", shape=(size // 8,)))
            chunk = bytes(2**20)
            for _ in range(size // len(chunk)):
                member.write(chunk)
    assert path.stat().st_size < 3e6
    tracemalloc.start()
    try:
        checkpoint = load_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6, f"loading a 100 KB model allocated {peak / 1e6:.0f} MB"
    assert sorted(checkpoint.params) == ["0.W", "0.b", "2.W", "2.b"]
    assert load_network(path).n_params == 784 * 30 + 30 + 30 * 10 + 10


@pytest.mark.parametrize(
    "members,fragment",
    [
        ({"param/0.W": npy_bytes(dtype="<f4", shape=(10**6, 10**6))}, "param/0.W"),  # 10^12 elements
        ({"param/0.W": npy_bytes(np.zeros((784, 30)))}, "float64"),  # right shape, wrong dtype
        ({"param/2.b": npy_bytes(np.zeros((3, 3), np.float32))}, "(3, 3)"),
        ({"meta": npy_bytes(dtype="<U500000000", shape=())}, "metadata"),  # a 2 GB string
        ({"meta": npy_bytes(dtype="<U1000000000000", shape=())}, "meta"),  # a 4 TB string NumPy cannot even describe
        ({"meta": npy_bytes(np.zeros(3))}, "metadata"),
    ],
    ids=["huge-shape", "dtype", "shape", "huge-meta", "absurd-meta", "meta-not-text"],
)
def test_members_are_checked_against_the_architecture_before_reading(saved, members, fragment):
    path, _ = saved
    rewrite(path, members)
    with pytest.raises(CheckpointError, match=fragment) as err:
        load_checkpoint(path)
    assert "model.npz" in str(err.value) and "\n" not in str(err.value)


def test_an_architecture_too_big_for_memory_is_refused(saved):
    path, meta = saved
    meta["architecture"] = mlp([10**9])
    rewrite(path, {"meta": npy_bytes(json.dumps(meta)), "param/0.W": npy_bytes(dtype="<f4", shape=(784, 10**9))})
    with pytest.raises(CheckpointError, match="GB") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",
        "42",
        '"a string"',
        "null",
        "true",
        "{not json",
        "[" * 100_000,
        json.dumps({"format": "nnsweep-checkpoint", "version": 1, "architecture": [1]}),
        json.dumps({"format": "nnsweep-checkpoint", "version": 1, "architecture": {}}),
        json.dumps(
            {
                "format": "nnsweep-checkpoint",
                "version": 1,
                "architecture": {"input_shape": [784], "layers": [{"type": "dense", "units": float("inf")}]},
            }
        ),
    ],
    ids=["list", "number", "string", "null", "bool", "invalid", "deep", "arch-list", "arch-empty", "arch-infinity"],
)
def test_metadata_that_is_not_an_object_is_one_line_error(saved, text):
    path, _ = saved
    rewrite(path, {"meta": npy_bytes(text)})
    with pytest.raises(CheckpointError, match="model.npz") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "key,value",
    [
        ("train_state", [1]),
        ("train_state", {"epoch": "x", "bogus": 1}),
        ("rng", "mt19937"),
        ("schedule", 3),
        ("optimizer", {"name": "lion"}),
    ],
)
def test_damaged_training_state_is_one_line_error(tmp_path, small, key, value):
    path = tmp_path / "m.npz"
    with pytest.raises(Interrupted):
        run(small, path, stop_after=1, epochs=2)
    meta = load_checkpoint(path).meta
    meta[key] = value
    rewrite(path, {"meta": npy_bytes(json.dumps(meta))})
    net, opt, sched, rng = setup(mlp([24], "relu", dropout=0.1))
    with pytest.raises(CheckpointError, match="m.npz") as err:
        restore_training(load_checkpoint(path), net, opt, sched, rng)
    assert "\n" not in str(err.value)


def test_a_cosine_run_checkpointed_before_its_state_existed_resumes_on_its_old_curve(tmp_path):
    """A checkpoint written before the cosine schedule kept state (so before its last epoch moved
    above min_lr) resumes on the curve its first epochs were trained on; a new one on the new."""
    net, opt, _, rng = setup(mlp([8], "relu"))
    opt.bind(net.parameters())
    path = tmp_path / "model.npz"
    save_checkpoint(
        path, net, optimizer=opt, schedule=make_schedule("cosine", 1.0, total_epochs=3), state=TrainState(), rng=rng
    )
    fresh = make_schedule("cosine", 1.0, total_epochs=3)
    restore_training(load_checkpoint(path), *setup(mlp([8], "relu"))[:2], fresh, np.random.default_rng())
    assert fresh.lr(2) == pytest.approx(0.25)  # (1 + cos(2 pi / 3)) / 2
    meta = load_checkpoint(path).meta
    meta["schedule"] = {"name": "cosine", "state": {}}  # as written before
    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(meta)))
    rewrite(path, {"meta": buffer.getvalue()})
    old = make_schedule("cosine", 1.0, total_epochs=3)
    restore_training(load_checkpoint(path), *setup(mlp([8], "relu"))[:2], old, np.random.default_rng())
    assert [old.lr(e) for e in range(3)] == pytest.approx([1.0, 0.5, 0.0])
