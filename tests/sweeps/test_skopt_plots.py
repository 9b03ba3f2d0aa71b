"""scikit-optimize's plots show the objective as the sweep optimised it, not skopt's -objective."""

import numpy as np
from hydra.core.override_parser.overrides_parser import OverridesParser

from nnsweep.sweeps.engines import SkoptEngine
from nnsweep.sweeps.search_space import build_search_space
from nnsweep.sweeps.skopt_plots import _convergence, _evaluations


def fitted(told):
    import matplotlib.pyplot as plt

    plt.close("all")  # skopt draws into the current figure
    space = build_search_space(OverridesParser.create().parse_overrides(["x=interval(0, 1)"]))
    engine = SkoptEngine(space, "random", "gp_hedge", len(told), "random", 0)
    engine.tell_all([[0.1 * (i + 1)] for i in range(len(told))], told)
    return engine.opt.get_result(), space


def test_a_maximised_accuracy_converges_upwards_in_its_own_units():
    result, space = fitted([-0.5, -0.8, -0.7])  # accuracies 0.5, 0.8, 0.7, told negated
    ax = _convergence(result, space, "-").axes[0]
    best = ax.get_lines()[0].get_ydata()
    assert list(np.round(best, 6)) == [0.5, 0.8, 0.8] and ax.get_ylabel() == "objective (maximised)"
    scatter = _evaluations(result, space, "-").axes[1].collections[0]
    assert sorted(np.round(scatter.get_offsets()[:, 1], 6)) == [0.5, 0.7, 0.8]


def test_a_minimised_loss_is_shown_as_it_is():
    result, space = fitted([0.9, 0.4, 0.6])
    ax = _convergence(result, space, "").axes[0]
    assert list(np.round(ax.get_lines()[0].get_ydata(), 6)) == [0.9, 0.4, 0.4]
    assert ax.get_ylabel() == "objective (minimised)"
