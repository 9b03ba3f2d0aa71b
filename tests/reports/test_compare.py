"""The best configuration against the runner-up, paired by seed, checked against hand computations
(``nnsweep.sweeps.comparison`` says what may be said; ``nnsweep.reports.compare`` finds and names the two)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nnsweep.reports.compare import ONE_SEED, best_vs_runner_up
from nnsweep.reports.grid import lr_epoch_grid
from nnsweep.reports.tables import load_tables
from nnsweep.sweeps.comparison import Candidate, Verdict, compare
from tests.reports.synthetic import write_repeated_sweep
from tests.reports.test_tables import HAND, T_1, T_2, hand_specs


def sentence(tmp_path, specs, val_size=None):
    write_repeated_sweep(tmp_path, specs, val_size=val_size)
    tables = load_tables(tmp_path)
    return best_vs_runner_up(tables.runs, tables.configs)


def runner_up_sentence(text: str) -> str:
    """The comparison, after the sentence naming the best configuration by its mean."""
    return text.split("lucky seed of another). ", 1)[-1]


def paired_specs(first: dict, second: dict, lrs=(0.3, 0.1)) -> list[dict]:
    return [{"lr": lrs[0], "seed": s, "val": [0.5, v]} for s, v in first.items()] + [
        {"lr": lrs[1], "seed": s, "val": [0.5, v]} for s, v in second.items()
    ]


def test_the_difference_and_its_interval_by_hand(tmp_path):
    """Best values (points) per seed: lr 0.1 90, 92, 97; lr 1 99, 80, 81. Differences -9, 12, 16:
    mean 19/3, squares about it (15.33² + 5.67² + 9.67²) = 360.67, s = sqrt(360.67 / 2)."""
    half = T_2 * np.sqrt(360.6667 / 2) / np.sqrt(3)
    assert (19 / 3 - half, 19 / 3 + half) == pytest.approx((-27.02, 39.69), abs=0.01)
    assert runner_up_sentence(sentence(tmp_path, hand_specs())) == (
        "lr 0.1 is ahead of lr 1 by 6.3 points of validation accuracy (95% interval -27.0 to 39.7, paired over 3 "
        "seeds): the interval includes 0, so the difference may be noise."
    )


def test_seeds_are_paired_by_their_number_not_their_place(tmp_path):
    """lr 0.3 has seeds 0-3, lr 0.1 seeds 1-3: the differences of seeds 1, 2, 3 are 1.0, 1.2 and
    0.8 points, mean 1.0, s = 0.2, so the interval is 1.0 +- 4.303 * 0.2 / sqrt(3) = 0.50 to 1.50:
    above one digit of 500 (0.2 points), and the mean above two (0.4)."""
    best = {0: 0.950, 1: 0.930, 2: 0.912, 3: 0.940}
    runner_up = {3: 0.932, 1: 0.920, 2: 0.900}
    result = compare(Candidate("a", best, 500), Candidate("b", runner_up, 500))
    d = result.difference
    assert (d.mean, d.n) == (pytest.approx(1.0), 3) and result.verdict is Verdict.BETTER
    assert (d.low, d.high) == pytest.approx((1.0 - T_2 * 0.2 / np.sqrt(3), 1.0 + T_2 * 0.2 / np.sqrt(3)), rel=1e-3)
    assert runner_up_sentence(sentence(tmp_path, paired_specs(best, runner_up), val_size=500)) == (
        "lr 0.3 is ahead of lr 0.1 by 1.0 points of validation accuracy (95% interval 0.5 to 1.5, paired over 3 "
        "seeds): the interval lies above 0 by at least one validation digit (one validation digit is 0.2 points), "
        "so the difference is more than seed noise."
    )


def test_two_seeds_with_equal_differences_give_no_verdict(tmp_path):
    """The issue's case: on 500 digits (steps of 0.2 points) lr 0.5 is 1.4 points above lr 2 on
    both seeds. The spread is 0 and there are 2 seeds: no interval, no verdict, and the reason."""
    first, second = {0: 0.950, 1: 0.940}, {0: 0.936, 1: 0.926}
    text = runner_up_sentence(sentence(tmp_path, paired_specs(first, second, lrs=(0.5, 2.0)), val_size=500))
    assert text == (
        "lr 0.5 is ahead of lr 2 by 1.4 points of validation accuracy on each of 2 paired seeds: no "
        "spread between the seeds to measure their noise by (the validation set counts whole digits), so "
        "no verdict; train more seeds."
    )
    assert "more than seed noise" not in text and "1.4 to 1.4" not in text


def test_two_seeds_with_a_spread_are_too_few_to_tell(tmp_path):
    """Differences 1.4 and 0.6: mean 1.0, s = sqrt(0.32), interval 1.0 +- 12.706 * s / sqrt(2)."""
    first, second = {0: 0.950, 1: 0.940}, {0: 0.936, 1: 0.934}
    half = T_1 * np.sqrt(0.32) / np.sqrt(2)
    assert (1 - half, 1 + half) == pytest.approx((-4.08, 6.08), abs=0.01)
    assert runner_up_sentence(sentence(tmp_path, paired_specs(first, second), val_size=500)) == (
        "lr 0.3 is ahead of lr 0.1 by 1.0 points of validation accuracy (95% interval -4.1 to 6.1, paired over 2 "
        "seeds): 2 seeds are too few to tell (a verdict needs 3); train more seeds."
    )


def test_five_seeds_give_the_t_interval_by_hand(tmp_path):
    """Differences 1.0, 1.4, 0.6, 1.2, 0.8 points: mean 1.0, s = sqrt(0.4 / 4), half width
    t(0.975, 4) * s / sqrt(5) with scipy's quantile 2.7764: 0.61 to 1.39."""
    first = {s: v for s, v in enumerate([0.950, 0.944, 0.930, 0.940, 0.920])}
    second = {s: v for s, v in enumerate([0.940, 0.930, 0.924, 0.928, 0.912])}
    t4 = stats.t.ppf(0.975, 4)
    assert t4 == pytest.approx(2.7764, abs=1e-4)
    half = t4 * np.sqrt(0.4 / 4) / np.sqrt(5)
    d = compare(Candidate("a", first, 500), Candidate("b", second, 500)).difference
    assert (d.mean, d.low, d.high, d.n) == (pytest.approx(1.0), pytest.approx(1 - half), pytest.approx(1 + half), 5)
    assert "(95% interval 0.6 to 1.4, paired over 5 seeds): the interval lies above 0" in sentence(
        tmp_path, paired_specs(first, second), val_size=500
    )


def test_a_difference_within_two_validation_digits_is_not_called_real(tmp_path):
    """Differences 0.2, 0.4, 0.2, 0.4, 0.2 points (one or two digits of 500): mean 0.28, s =
    sqrt(0.048 / 4), interval 0.28 +- 2.776 * s / sqrt(5) = 0.14 to 0.42: above 0, yet under two
    digits (0.4) on average and reaching below one (0.2): not more than seed noise."""
    first = {s: v for s, v in enumerate([0.950, 0.944, 0.930, 0.940, 0.920])}
    second = {s: first[s] - d / 100 for s, d in enumerate([0.2, 0.4, 0.2, 0.4, 0.2])}
    text = runner_up_sentence(sentence(tmp_path, paired_specs(first, second), val_size=500))
    assert text == (
        "lr 0.3 is ahead of lr 0.1 by 0.3 points of validation accuracy (95% interval 0.1 to 0.4, paired "
        "over 5 seeds): within 2 validation digits or with an interval reaching below one (one validation "
        "digit is 0.2 points), so not called more than seed noise."
    )


def test_an_accuracy_interval_stays_within_100_percent(tmp_path):
    """Seeds at 100% and 99.8%: mean 99.9%, s = 0.1414 points, t interval 99.9 +- 12.706 *
    0.1414 / sqrt(2) = 98.63 to 101.17: cut at 100%, in configs.csv, the grid and the sentence."""
    specs = hand_specs({0.1: [[0.5, 1.0], [0.5, 0.998]], 1.0: [[0.5, 0.90], [0.5, 0.92]]})
    text = sentence(tmp_path, specs, val_size=500)
    half = T_1 * np.sqrt(0.000002) / np.sqrt(2)
    assert 0.999 + half == pytest.approx(1.0117, abs=1e-4)
    configs = pd.read_csv(tmp_path / "configs.csv")
    assert 0.91 + T_1 * np.sqrt(0.0002) / np.sqrt(2) == pytest.approx(1.0371, abs=1e-4)  # lr 1: 91% +- 12.7
    assert configs["best_val_acc_ci_high"].tolist() == [1.0, 1.0]
    assert configs["best_val_acc_ci_low"].iloc[0] == pytest.approx(0.999 - half, rel=1e-3)
    assert f"99.90% over 2 seeds, 95% interval {0.999 - half:.2%} to 100.00% (cut at 100%)" in text
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    assert np.nanmax(grid.high) == 1.0


def test_configurations_are_named_by_what_differs(tmp_path):
    specs = hand_specs({0.1: HAND[0.1]}, **{"net.hidden": "[300]"}) + hand_specs(
        {0.1: [[0.5, 0.89], [0.5, 0.91], [0.5, 0.95]]}, **{"net.hidden": "[100]"}
    )
    text = runner_up_sentence(sentence(tmp_path, specs))
    assert text.startswith("hidden [300] is ahead of hidden [100] by 1.3 points")  # differences 1, 1, 2


def test_one_seed_each_says_how_to_get_more(tmp_path):
    specs = [{"lr": lr, "seed": 0, "val": [0.5, v]} for lr, v in ((0.1, 0.9), (1.0, 0.8))]
    assert sentence(tmp_path, specs) == ONE_SEED
    assert "--repeats 3" in ONE_SEED


def test_one_configuration_of_one_seed_has_nothing_to_compare(tmp_path):
    assert sentence(tmp_path, [{"lr": 0.1, "seed": 0, "val": [0.5, 0.9]}]) is None


def test_one_configuration_with_repeats_states_its_mean_only(tmp_path):
    text = sentence(tmp_path, hand_specs({0.1: HAND[0.1]}))
    assert (
        text.startswith("Best configuration by mean validation accuracy: lr 0.1, 93.00% over 3 seeds")
        and "ahead" not in text
    )


def test_disjoint_seeds_cannot_be_paired(tmp_path):
    specs = [{"lr": 0.1, "seed": s, "val": [0.5, 0.9 + s / 100]} for s in (0, 1)] + [
        {"lr": 1.0, "seed": s, "val": [0.5, 0.8 + s / 100]} for s in (2, 3)
    ]
    assert runner_up_sentence(sentence(tmp_path, specs)) == (
        "lr 0.1 and lr 1 share 0 seeds with a value: too few to compare them seed by seed."
    )


def test_identical_differences_have_no_spread():
    result = compare(Candidate("a", {0: 0.02, 1: 0.03, 2: 0.04}), Candidate("b", {0: 0.01, 1: 0.02, 2: 0.03}))
    assert result.verdict is Verdict.NO_SPREAD and result.difference.mean == pytest.approx(1.0)
    assert compare(Candidate("a", {0: 0.02}), Candidate("b", {0: 0.01})).verdict is Verdict.NOT_PAIRED
    assert compare(Candidate("a", {0: 0.01}), Candidate("b", {})).difference.n == 0


@pytest.mark.parametrize(
    "specs",
    [
        hand_specs(),
        paired_specs({0: 0.950, 1: 0.940}, {0: 0.936, 1: 0.926}, lrs=(0.5, 2.0)),
        hand_specs({0.1: HAND[0.1]}, **{"net.hidden": "[300]"})
        + hand_specs({0.1: [[0.5, 0.89], [0.5, 0.91], [0.5, 0.95]]}, **{"net.hidden": "[100]"}),
    ],
    ids=["hand", "two-equal-seeds", "hidden"],
)
def test_the_terminal_says_what_the_page_says(tmp_path, specs):
    """``nnsweep.sweeps.collect.ranked_candidates`` (runs.csv alone, for the terminal) and the report
    (configs.csv) give ``best_statement`` the same configurations: one sentence, word for word."""
    from nnsweep.sweeps.collect import ranked_candidates
    from nnsweep.sweeps.comparison import best_statement

    page = sentence(tmp_path, specs, val_size=500)
    assert best_statement(ranked_candidates(pd.read_csv(tmp_path / "runs.csv"))) == page


def test_the_page_gives_no_verdict_from_two_equal_seeds_and_no_interval_above_100(tmp_path):
    """The issue's page, built by ``build_report``: lr 0.5 at 95.0 and 94.0, lr 2 at 93.6 and
    92.6 (1.4 points apart on both seeds): the page says why it cannot tell, and the best mean's
    interval (94.5 +- 12.706 * 0.707 / sqrt(2): 88.1 to 100.9) is cut at 100%."""
    import html

    from nnsweep.reports.build import build_report

    write_repeated_sweep(
        tmp_path, paired_specs({0: 0.950, 1: 0.940}, {0: 0.936, 1: 0.926}, lrs=(0.5, 2.0)), val_size=500
    )
    page = html.unescape(build_report(tmp_path).read_text())
    assert "more than seed noise" not in page and "1.4 to 1.4" not in page
    assert "lr 0.5 is ahead of lr 2 by 1.4 points of validation accuracy on each of 2 paired seeds" in page
    assert "94.50% over 2 seeds, 95% interval 88.15% to 100.00% (cut at 100%)" in page


def test_the_page_compares_nothing_when_every_run_ended_at_chance(tmp_path):
    """Every run at chance (net.init=zeros): the page named a best configuration and compared it
    with the runner-up; its summary now says that no run learned, and nothing is compared."""
    write_repeated_sweep(tmp_path, paired_specs({0: 0.100, 1: 0.100, 2: 0.100}, {0: 0.100, 1: 0.100, 2: 0.100}))
    tables = load_tables(tmp_path)
    assert best_vs_runner_up(tables.runs, tables.configs) is not None
    tables.runs["at_chance"] = True
    assert best_vs_runner_up(tables.runs, tables.configs) is None
