"""Checkpoints: round trips, exact resume, refusal of damaged, foreign and pickled files."""
import json

import numpy as np
import pytest

from nets.architectures import get_architecture, mlp
from nets.atomic import atomic_write
from nets.checkpoint import (CheckpointError, load_checkpoint, load_network, restore_network,
                             restore_training, save_checkpoint)
from nets.data.augment import Augmenter
from nets.network import Network
from nets.optimizers import make_optimizer
from nets.schedules import make_schedule
from nets.train import LabelledData, fit, target_matrix


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

    state = fit(net, opt, sched, data["train"], data["val"], epochs=epochs, batch_size=16, rng=rng,
                targets=target_matrix(10), augment=Augmenter(), state=state, on_epoch_end=on_epoch_end)
    return net, state


@pytest.fixture(scope="module")
def small(mnist5k):
    idx = np.random.default_rng(0).permutation(len(mnist5k.train))[:400]
    return {"train": LabelledData(mnist5k.train.x[idx], mnist5k.train.labels[idx]), "val": mnist5k.val}


def test_round_trip_gives_identical_predictions(tmp_path, mnist5k):
    net = Network(get_architecture("lenet5"), np.random.default_rng(1))
    save_checkpoint(tmp_path / "m.npz", net)
    again = load_network(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.predict_proba(mnist5k.val.x[:50]), net.predict_proba(mnist5k.val.x[:50]))
    assert again.describe() == net.describe()


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
    save_checkpoint(tmp_path / "m.npz", Network(get_architecture("nielsen"), np.random.default_rng(0)))
    other = Network(get_architecture("rashid"), np.random.default_rng(0))
    with pytest.raises(CheckpointError, match=r"different network \(layer 0.*net="):
        restore_network(load_checkpoint(tmp_path / "m.npz"), other)


def test_model_only_checkpoint_cannot_resume(tmp_path):
    net, opt, sched, rng = setup(get_architecture("nielsen"))
    save_checkpoint(tmp_path / "m.npz", net)
    with pytest.raises(CheckpointError, match="no training state"):
        restore_training(load_checkpoint(tmp_path / "m.npz"), net, opt, sched, rng)


def test_damaged_and_foreign_files_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    save_checkpoint(good, Network(get_architecture("nielsen"), np.random.default_rng(0)))
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
