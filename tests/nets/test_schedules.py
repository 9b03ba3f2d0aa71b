"""Learning-rate schedules: rates per epoch and Nielsen's plateau halving with its stop rule."""

import math

import pytest

from nnsweep.nets.schedules import make_schedule


def test_fixed_schedules():
    assert [make_schedule("constant", 0.5).lr(e) for e in range(3)] == [0.5] * 3
    assert [make_schedule("step", 1.0, step_size=2, gamma=0.5).lr(e) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert make_schedule("exponential", 1.0, gamma=0.9).lr(3) == pytest.approx(0.729)


def test_cosine_ends_above_its_minimum_as_pytorch_does():
    # PyTorch's CosineAnnealingLR(T_max=4) at epochs 0..3: min + (max - min)(1 + cos(pi e / 4)) / 2,
    # by hand: cos(pi/4) = 0.7071068, cos(3 pi/4) = -0.7071068.
    cos = make_schedule("cosine", 1.0, total_epochs=4, min_lr=0.0)
    assert [cos.lr(e) for e in range(4)] == pytest.approx([1.0, 0.8535534, 0.5, 0.1464466], abs=1e-7)
    shifted = make_schedule("cosine", 0.5, total_epochs=4, min_lr=0.1)  # 0.1 + 0.4 * the above
    assert [shifted.lr(e) for e in range(4)] == pytest.approx([0.5, 0.4414214, 0.3, 0.1585786], abs=1e-7)
    assert cos.lr(3) > 0 and shifted.lr(3) > 0.1  # the last epoch still moves the weights


def test_cosine_of_a_checkpoint_without_its_state_keeps_the_curve_it_was_trained_on():
    """Checkpoints written before the convention changed hold no cosine state: resumed, such a
    run keeps ending at min_lr (pi e / (T - 1)), its first epochs' curve; a new one round-trips."""
    old = make_schedule("cosine", 1.0, total_epochs=5, min_lr=0.0)
    old.load_state_dict({})
    assert [old.lr(e) for e in range(5)] == pytest.approx([1.0, 0.8535534, 0.5, 0.1464466, 0.0], abs=1e-7)
    new = make_schedule("cosine", 1.0, total_epochs=5)
    again = make_schedule("cosine", 1.0, total_epochs=5)
    again.load_state_dict(new.state_dict())
    assert [again.lr(e) for e in range(5)] == [new.lr(e) for e in range(5)]
    assert again.lr(4) == pytest.approx(0.5 * (1 + math.cos(4 * math.pi / 5)))


def test_plateau_halves_after_patience_and_stops_at_one_128th():
    s = make_schedule("plateau", 1.0, patience=2)
    assert s.observe(0, 0.5) is False and s.lr(1) == 1.0
    assert s.observe(1, 0.5) is False and s.lr(2) == 1.0  # one epoch without improvement
    assert s.observe(2, 0.4) is False and s.lr(3) == 0.5  # two: halve
    assert s.observe(3, 0.6) is False and s.lr(4) == 0.5  # improvement resets the count
    stops = [s.observe(4 + i, 0.1) for i in range(12)]
    assert s.lr(0) == 1 / 128 and stops.index(True) == 11  # 6 more halvings, 2 epochs each
    state = s.state_dict()
    t = make_schedule("plateau", 1.0, patience=2)
    t.load_state_dict(state)
    assert t.lr(0) == s.lr(0) and t.since_best == s.since_best


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("step", {"step_size": 0}),
        ("exponential", {"gamma": 0}),
        ("cosine", {"total_epochs": 0}),
        ("plateau", {"factor": 1.0}),
        ("warmup", {}),
    ],
)
def test_bad_schedules(name, kwargs):
    with pytest.raises(ValueError):
        make_schedule(name, 0.1, **kwargs)
