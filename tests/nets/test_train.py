"""The training loop on real digits: it learns, it is deterministic, it survives divergence."""

import math

import numpy as np
import pytest

from nnsweep.nets.architectures import lenet5, mlp
from nnsweep.nets.data.augment import Augmenter
from nnsweep.nets.data.datasets import load_dataset
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import make_optimizer
from nnsweep.nets.schedules import make_schedule
from nnsweep.nets.train import LabelledData, fit, target_matrix


def subset(data, n, seed=0):
    """A random (so class-balanced on average) part of the training split."""
    idx = np.random.default_rng(seed).permutation(len(data.train))[:n]
    return LabelledData(data.train.x[idx], data.train.labels[idx])


def train(data, description, optimizer="sgd", lr=0.5, epochs=3, batch=10, seed=0, train_part=None, **kw):
    rng = np.random.default_rng(seed)
    net = Network(description, rng)
    opt = make_optimizer(optimizer, lr=lr)
    state = fit(
        net,
        opt,
        make_schedule(kw.pop("schedule", "constant"), lr, **kw.pop("schedule_kw", {})),
        train_part or data.train,
        data.val,
        epochs=epochs,
        batch_size=batch,
        rng=rng,
        targets=target_matrix(10),
        **kw,
    )
    return net, state


def test_784_30_10_learns_mnist5k_in_three_epochs(mnist5k):
    net, state = train(mnist5k, mlp([30], "sigmoid", loss="cross_entropy"), lr=0.5, epochs=3)
    assert state.status == "ok" and len(state.records) == 3
    assert state.records[-1].val_acc > 0.85
    assert state.records[-1].train_loss < state.records[0].train_loss
    r = state.records[0]
    assert r.epoch == 1 and r.lr == 0.5 and r.seconds > 0 and 0 <= r.train_acc <= 1


def test_small_lenet5_learns(mnist5k):
    part = subset(mnist5k, 1500)
    net, state = train(mnist5k, lenet5("relu", "max"), "adam", lr=2e-3, epochs=2, batch=32, train_part=part)
    assert state.records[-1].val_acc > 0.6  # chance is 0.1


def test_same_seed_gives_identical_records_other_seed_does_not(mnist5k):
    part = subset(mnist5k, 800)
    desc = mlp([20], "relu", dropout=0.2)
    kw = dict(epochs=2, train_part=part, augment=Augmenter())
    _, a = train(mnist5k, desc, "adam", lr=1e-3, seed=3, **kw)
    _, b = train(mnist5k, desc, "adam", lr=1e-3, seed=3, **kw)
    _, c = train(mnist5k, desc, "adam", lr=1e-3, seed=4, **kw)
    strip = lambda s: [(r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in s.records]
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_divergence_is_a_status_not_a_crash(mnist5k):
    part = subset(mnist5k, 500)
    # Three ReLU layers at lr 3: activations grow layer by layer until float32 overflows.
    net, state = train(mnist5k, mlp([100, 100, 100], "relu"), "sgd", lr=3.0, epochs=5, train_part=part)
    assert state.status == "diverged" and state.diverged_epoch == 1
    assert len(state.records) == 1 and not math.isfinite(state.records[0].train_loss)


def test_early_stopping_keeps_the_best_weights(mnist5k):
    part = subset(mnist5k, 300)
    seen = []
    net, state = train(
        mnist5k,
        mlp([64], "relu"),
        "adam",
        lr=1e-2,
        epochs=40,
        train_part=part,
        patience=2,
        on_epoch_end=lambda record, st: seen.append(record.epoch),
    )
    assert state.status == "early_stopped" and len(state.records) < 40
    assert state.epoch == state.best_epoch + 2
    assert seen == [r.epoch for r in state.records]
    assert state.best_val_acc == max(r.val_acc for r in state.records)
    best = Network(net.architecture(), np.random.default_rng(0))
    best.set_params(state.best_params)
    assert (best.predict(mnist5k.val.x) == mnist5k.val.labels).mean() == pytest.approx(state.best_val_acc)


def test_plateau_schedule_stops_training(mnist5k):
    part = subset(mnist5k, 200)
    _, state = train(
        mnist5k,
        mlp([16], "relu"),
        "sgd",
        lr=0.1,
        epochs=200,
        train_part=part,
        schedule="plateau",
        schedule_kw={"patience": 1, "min_fraction": 1 / 4},
    )
    assert state.status == "early_stopped"
    assert min(r.lr for r in state.records) == pytest.approx(0.1 / 2)  # stopped when the rate reached 1/4


def test_per_sample_sgd_and_rashid_scaling(mnist5k):
    """Rashid's setup: per-sample SGD, 0.01/0.99 targets."""
    data = load_dataset("mnist5k", scaling="rashid", train_limit=1000)
    assert data.train.x.min() == pytest.approx(0.01) and data.train.x.max() == pytest.approx(1.0)
    assert np.bincount(data.train.labels).min() > 70  # the limited part still has every digit
    rng = np.random.default_rng(0)
    net = Network(mlp([100], "sigmoid", loss="quadratic", init="normal_fan_in", bias=False), rng)
    state = fit(
        net,
        make_optimizer("sgd", lr=0.3),
        make_schedule("constant", 0.3),
        data.train,
        data.val,
        epochs=1,
        batch_size=1,
        rng=rng,
        targets=target_matrix(10, on=0.99, off=0.01),
    )
    assert state.records[0].val_acc > 0.7


def test_bad_loop_settings(mnist5k):
    with pytest.raises(ValueError, match="mini-batch size"):
        train(mnist5k, mlp([8]), batch=10**6, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        train(mnist5k, mlp([8]), epochs=0)


def test_augmenter_moves_digits_but_keeps_them(mnist5k):
    x = subset(mnist5k, 64).x
    out = Augmenter(rotation=15, zoom=0.1, shift=0.1)(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not np.allclose(out, x)
    assert out.min() >= 0 and out.max() <= 1.0 + 1e-6
    ink_ratio = out.sum(axis=1) / x.sum(axis=1)
    assert np.all((ink_ratio > 0.6) & (ink_ratio < 1.4))  # zoom changes ink area by at most ~20%
    same = Augmenter(rotation=0, zoom=0, shift=0)(x, np.random.default_rng(0))
    np.testing.assert_array_equal(same, x)
    shifted = Augmenter(rotation=0, zoom=0, shift=0.2)(x[:1], np.random.default_rng(1))
    com = lambda img: np.array(np.nonzero(img.reshape(28, 28) > 0.5)).mean(axis=1)
    assert np.abs(com(shifted) - com(x[:1])).max() > 0.3  # the digit moved


def test_flip_mirrors_about_half_the_images_and_leaves_the_other_draws_alone(mnist5k):
    x = subset(mnist5k, 400).x
    out = Augmenter(rotation=0, zoom=0, shift=0, flip=True)(x, np.random.default_rng(0))
    images, flipped = x.reshape(-1, 28, 28), out.reshape(-1, 28, 28)
    mirrored = np.all(flipped == images[:, :, ::-1], axis=(1, 2))
    kept = np.all(flipped == images, axis=(1, 2))
    assert np.all(mirrored | kept) and not np.any(mirrored & kept)  # each one or the other, exactly
    assert 150 < mirrored.sum() < 250
    assert np.array_equal(x.reshape(-1, 28, 28), images)  # the input is not changed in place
    # The affine draws come first: with flip the moved images are those without it, some mirrored.
    moved = Augmenter(shift=0.2)(x, np.random.default_rng(3)).reshape(-1, 28, 28)
    both = Augmenter(shift=0.2, flip=True)(x, np.random.default_rng(3)).reshape(-1, 28, 28)
    assert np.all(np.all(both == moved, axis=(1, 2)) | np.all(both == moved[:, :, ::-1], axis=(1, 2)))


def test_gradient_clipping_bounds_the_step_and_tames_divergence(mnist5k):
    from nnsweep.nets.train import clip_gradient_norm

    net = Network(mlp([8], "relu"), np.random.default_rng(0))
    net.train_step(mnist5k.train.x[:16], target_matrix(10)[mnist5k.train.labels[:16]])
    before = clip_gradient_norm(net, 1e9)
    assert before > 0.05
    assert clip_gradient_norm(net, 0.05) == pytest.approx(before)
    after = np.sqrt(sum(float(np.vdot(g, g)) for _, _, g, _ in net.parameters()))
    assert after == pytest.approx(0.05, rel=1e-5)
    part = subset(mnist5k, 500)
    _, wild = train(mnist5k, mlp([100, 100, 100], "relu"), "sgd", lr=3.0, epochs=2, train_part=part)
    _, tame = train(mnist5k, mlp([100, 100, 100], "relu"), "sgd", lr=3.0, epochs=2, train_part=part, clip_norm=1.0)
    assert wild.status == "diverged" and tame.status == "ok"
    with pytest.raises(ValueError, match="clipping norm"):
        train(mnist5k, mlp([8]), epochs=1, clip_norm=0.0)


def test_without_shuffling_every_epoch_takes_the_files_order(mnist5k):
    """shuffle=False (Rashid's code): the order is the file's, so training after the weights are
    drawn depends on nothing random; reversing the images changes the result."""
    part = subset(mnist5k, 200)
    description = mlp([10], "sigmoid", loss="rashid_quadratic", bias=False)
    runs = []
    for rng_seed, images in ((1, part), (2, part), (1, LabelledData(part.x[::-1], part.labels[::-1]))):
        net = Network(description, np.random.default_rng(0))  # the same first weights each time
        fit(
            net,
            make_optimizer("sgd", lr=0.3),
            make_schedule("constant", 0.3),
            images,
            mnist5k.val,
            epochs=2,
            batch_size=1,
            rng=np.random.default_rng(rng_seed),
            targets=target_matrix(10, 0.99, 0.01),
            shuffle=False,
        )
        runs.append(next(iter(net.parameters()))[1].copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("batch", [1, 7])
def test_one_examples_gradient_by_blas_gives_matmuls_records_and_weights(mnist5k, batch, optimizer, monkeypatch):
    """Dense layers hand one example's weight gradient, an outer product, to BLAS
    (layers.weight_grad): with L2 and weight decay, every record and weight byte of fit is what the
    gradient formed by matmul gives (at mini-batch 7 the last batch has one example)."""
    import nnsweep.nets.layers as layers_module

    train = LabelledData(mnist5k.train.x[:701], mnist5k.train.labels[:701])

    def run() -> tuple[list, dict]:
        net = Network(mlp([30], loss="quadratic", bias=True), np.random.default_rng(0))
        net.layers[0].params["W"][0] = -0.0  # pixel 0 is never inked: its weights stay -0 (matmul's sums do)
        state = fit(
            net,
            make_optimizer(optimizer, lr=0.5, l2=2.0, n_train=len(train), weight_decay=0.01),
            make_schedule("constant", 0.5),
            train,
            mnist5k.val,
            epochs=2,
            batch_size=batch,
            rng=np.random.default_rng(1),
            targets=target_matrix(10),
        )
        return [(r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in state.records], net.get_params()

    blas_records, blas = run()
    monkeypatch.setattr(layers_module, "weight_grad", lambda x, dy, out: np.matmul(x.T, dy, out=out))
    records, params = run()
    assert blas_records == records
    for key in params:  # the bytes: assert_array_equal takes -0 for +0
        assert blas[key].tobytes() == params[key].tobytes(), key
    assert not mnist5k.train.x[:701, 0].any()
    if optimizer == "sgd":  # w - lr (+0) keeps -0; momentum's w + v makes it +0 either way
        assert np.signbit(params["0.W"][0]).all()
