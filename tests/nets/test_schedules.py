"""Learning-rate schedules: rates per epoch and Nielsen's plateau halving with its stop rule."""
import math

import pytest

from nets.schedules import make_schedule


def test_fixed_schedules():
    assert [make_schedule("constant", 0.5).lr(e) for e in range(3)] == [0.5] * 3
    assert [make_schedule("step", 1.0, step_size=2, gamma=0.5).lr(e) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert make_schedule("exponential", 1.0, gamma=0.9).lr(3) == pytest.approx(0.729)
    cos = make_schedule("cosine", 1.0, total_epochs=5, min_lr=0.0)
    assert [round(cos.lr(e), 6) for e in range(5)] == [1.0, round(0.5 * (1 + math.cos(math.pi / 4)), 6), 0.5,
                                                        round(0.5 * (1 + math.cos(3 * math.pi / 4)), 6), 0.0]


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


@pytest.mark.parametrize("name,kwargs", [("step", {"step_size": 0}), ("exponential", {"gamma": 0}),
                                         ("cosine", {"total_epochs": 0}), ("plateau", {"factor": 1.0}),
                                         ("warmup", {})])
def test_bad_schedules(name, kwargs):
    with pytest.raises(ValueError):
        make_schedule(name, 0.1, **kwargs)
