"""scikit-optimize's own plots of a finished search: convergence, objective (partial dependence
of the fitted model) and evaluations (where the trials landed), saved beside the trials."""
from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

log = logging.getLogger("nnsweep.skopt")
PLOTS = ("skopt_convergence.png", "skopt_objective.png", "skopt_evaluations.png")


def _figure(axes):
    return np.atleast_1d(np.asarray(axes, dtype=object)).flat[0].figure


def write_skopt_plots(opt, space, sweep_dir: Path, direction: str) -> list[Path]:
    """Write the plots that apply (the objective plot needs a fitted model); returns their paths."""
    from skopt.plots import plot_convergence, plot_evaluations, plot_objective

    result = opt.get_result()
    sign = "-" if direction == "maximize" else ""
    written = []
    ax = plot_convergence(result)
    ax.set_title("Convergence: best value found so far")
    ax.set_ylabel(f"{sign}objective (minimised)")
    ax.set_xlabel("trial")
    written.append(_save(ax.figure, sweep_dir / PLOTS[0]))
    if result.models:
        fig = _figure(plot_objective(result, dimensions=space.names))
        fig.suptitle(f"Partial dependence of {sign}objective (minimised) on each parameter", y=1.04)
        written.append(_save(fig, sweep_dir / PLOTS[1]))
    else:
        log.info("no fitted model (random search): skipping the objective plot")
    fig = _figure(plot_evaluations(result, dimensions=space.names))
    fig.suptitle("Where the trials were evaluated (colour: order)", y=1.04)
    written.append(_save(fig, sweep_dir / PLOTS[2]))
    return written


def _save(fig, path: Path) -> Path:
    side = max(4.0, 2.6 * len(fig.axes) ** 0.5)
    fig.set_size_inches(max(fig.get_figwidth(), side), max(fig.get_figheight(), side))
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
