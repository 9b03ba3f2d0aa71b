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
    """Write the plots that apply (the objective plot needs a fitted model); returns their paths.

    A plot that fails is logged and skipped: the trials are already recorded, and a figure must
    never turn a finished sweep into an error.
    """
    result = opt.get_result()
    sign = "-" if direction == "maximize" else ""
    written = []
    for name, draw in ((PLOTS[0], _convergence), (PLOTS[1], _objective), (PLOTS[2], _evaluations)):
        try:
            fig = draw(result, space, sign)
        except Exception as err:  # skopt's plotting has known breakages; the sweep stands without it
            log.warning("could not draw %s: %s: %s", name, type(err).__name__, err)
            continue
        if fig is not None:
            written.append(_save(fig, sweep_dir / name))
    return written


def _convergence(result, space, sign):
    from skopt.plots import plot_convergence

    ax = plot_convergence(result)
    if sign:  # scikit-optimize minimises -objective: show the objective itself, as it was maximised
        for line in ax.get_lines():
            line.set_ydata(-np.asarray(line.get_ydata(), dtype=float))
        ax.relim()
        ax.autoscale_view()
    ax.set_title("Convergence: best value found so far")
    ax.set_ylabel(f"objective ({'maximised' if sign else 'minimised'})")
    ax.set_xlabel("trial")
    return ax.figure


def _objective(result, space, sign):
    from skopt.plots import plot_objective

    if not result.models:
        log.info(
            "no fitted model yet (random search, or fewer trials than n_initial_points): skipping the objective plot"
        )
        return None
    fig = _figure(plot_objective(result, dimensions=space.names))
    fig.suptitle(f"Partial dependence of {sign}objective (minimised) on each parameter", y=1.04)
    return fig


def _evaluations(result, space, sign):
    if len(space.names) == 1:
        return _evaluations_one_dimension(result, space, sign)
    from skopt.plots import plot_evaluations

    fig = _figure(plot_evaluations(result, dimensions=space.names))
    fig.suptitle("Where the trials were evaluated (colour: order)", y=1.04)
    return fig


def _evaluations_one_dimension(result, space, sign):
    """skopt 0.10.2's plot_evaluations fails for a single dimension (it indexes a 2-D array of
    axes as one axes); draw the same information directly."""
    values = [x[0] for x in result.x_iters]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    numeric = all(isinstance(v, (int, float)) for v in values)
    positions = values if numeric else [str(v) for v in values]
    top.hist(positions, bins=min(20, max(5, len(values))) if numeric else None, color="#1f77b4")
    top.set_ylabel("trials")
    shown = -np.asarray(result.func_vals, dtype=float) if sign else result.func_vals
    bottom.scatter(positions, shown, c=range(len(values)), cmap="viridis")
    bottom.set_ylabel(f"objective ({'maximised' if sign else 'minimised'})")
    bottom.set_xlabel(space.names[0])
    if numeric and space.dimensions[0].log:
        bottom.set_xscale("log")
    fig.suptitle("Where the trials were evaluated (colour: order)")
    return fig


def _save(fig, path: Path) -> Path:
    side = max(4.0, 2.6 * len(fig.axes) ** 0.5)
    fig.set_size_inches(max(fig.get_figwidth(), side), max(fig.get_figheight(), side))
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
