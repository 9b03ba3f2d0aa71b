"""Importance with intervals (``nnsweep.sweeps.importance``) on sweeps whose answer is known by
construction, and the cases where it must say it cannot tell."""

import numpy as np
import pandas as pd
import pytest

from nnsweep.sweeps.importance import importances, min_configurations


def additive_grid(seeds: int = 1, noise: float = 0.0) -> pd.DataFrame:
    """A 6 x 6 full factorial grid, objective x1 + 0.5 * x2 (+ seed noise): with x1 and x2
    uniform on the same values, x1's main effect holds 1 / (1 + 0.25) = 80% of the variance,
    x2's 20%, and there is no interaction."""
    rng = np.random.default_rng(0)
    x1, x2 = np.meshgrid(np.linspace(0, 1, 6), np.linspace(0, 1, 6))
    rows = []
    for seed in range(seeds):
        for a, b in zip(x1.ravel(), x2.ravel()):
            value = a + 0.5 * b + noise * rng.normal()
            rows.append({"x1": a, "x2": b, "seed": seed, "status": "ok", "best_val_acc": value})
    return pd.DataFrame(rows)


def test_shares_known_by_construction():
    found = importances(additive_grid(), ["x1", "x2"], bootstraps=30)
    x1, x2 = found.settings
    assert (x1.setting, x2.setting) == ("x1", "x2")
    # The forest's estimate is within 0.03 of the truth; a resample of a balanced grid is no
    # longer balanced, so the intervals are about the estimate, not guaranteed to cover 0.8/0.2.
    assert x1.share == pytest.approx(0.8, abs=0.03) and x2.share == pytest.approx(0.2, abs=0.03)
    assert x1.low <= x1.share <= x1.high and x2.low <= x2.share <= x2.high
    assert x1.low > x2.high  # told apart
    assert found.configurations == 36 and found.runs == 36
    sentence = found.sentence()
    assert sentence.startswith("Importance (fANOVA, 95% bootstrap intervals over 36 configurations and 36 runs): x1 ")
    assert "of the variance of the best validation accuracy; x2 " in sentence


def test_repeats_are_resampled_within_their_configuration():
    """Three seeds of each point: every run counts, and seed noise widens the intervals."""
    quiet = importances(additive_grid(seeds=3), ["x1", "x2"], bootstraps=30)
    noisy = importances(additive_grid(seeds=3, noise=0.3), ["x1", "x2"], bootstraps=30)
    assert quiet.runs == noisy.runs == 108 and quiet.configurations == 36
    width = lambda f: f.settings[0].high - f.settings[0].low  # noqa: E731
    assert width(noisy) > width(quiet)
    assert noisy.settings[0].share < quiet.settings[0].share  # noise is variance no setting explains


def test_an_irrelevant_setting_is_not_told_apart_from_none():
    rng = np.random.default_rng(3)
    lr, l2 = 10 ** rng.uniform(-2, 1, 30), rng.uniform(0, 10, 30)
    runs = pd.DataFrame(
        {"optimizer.lr": lr, "optimizer.l2": l2, "status": "ok", "best_val_acc": 0.9 - 0.1 * np.log10(lr) ** 2}
    )
    found = importances(runs, ["optimizer.lr", "optimizer.l2"], log_names={"optimizer.lr"}, bootstraps=30)
    lr_share, l2_share = found.settings
    assert lr_share.setting == "optimizer.lr" and lr_share.log_scale and lr_share.share > 0.9
    assert l2_share.low < 0.01 and "optimizer.l2" in found.sentence()
    assert "(not told apart from none)" in found.sentence().split("optimizer.l2")[1]


def test_too_few_configurations_say_so_instead_of_numbers():
    runs = additive_grid().iloc[:9]
    found = importances(runs, ["x1", "x2"])
    assert found.settings == [] and min_configurations(2) == 10
    assert found.sentence() == (
        "Importance: not estimated: 2 settings need at least 10 finished configurations, this sweep has 9."
    )


def test_one_varied_setting_has_nothing_to_share():
    runs = additive_grid()
    runs["x2"] = 0.5
    assert "one setting varies" in importances(runs, ["x1", "x2"]).sentence()


def test_pruned_and_failed_runs_are_left_out():
    runs = additive_grid()
    runs.loc[:5, "status"] = "pruned"
    runs.loc[6:8, "status"] = "failed"
    assert importances(runs, ["x1", "x2"], bootstraps=5).runs == 27
