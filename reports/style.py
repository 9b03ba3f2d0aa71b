"""One look for every figure: a non-interactive backend, readable fonts, and a save helper."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from nnsweep.core.atomic import atomic_write

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Text is drawn as written: class names, run names and override values are data, and "$x^$" in
# one of them is not mathtext to parse (invalid mathtext raises when the figure is saved). The one
# mathtext matplotlib writes itself, a log axis's "10^-2" labels, is replaced by plain numbers
# (``log_axis``): with parse_math off it would show as "$\mathdefault{10^{-2}}$".
plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.fontsize": 9,
        "axes.grid": False,
        "figure.constrained_layout.use": True,
        "text.parse_math": False,
        "text.usetex": False,
    }
)

CMAP_ACCURACY = "viridis"
CMAP_GAP = "RdBu_r"
MISSING_COLOUR = "#d0d0d0"


def save(fig, path: Path) -> Path:
    """Write ``fig`` as PNG, atomically (a full disk leaves the previous file or none, and raises
    ``WriteError``), and close it."""
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
    return path


def figure_to_rgb(fig) -> np.ndarray:
    """The rendered figure as an ``(h, w, 3)`` uint8 array (one animation frame)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def lr_label(lr: float) -> str:
    return f"{lr:.3g}"


def log_axis(ax, axis: str = "x", minor_labels: bool = False) -> None:
    """Put ``ax``'s ``axis`` on a log scale labelled in plain numbers ("0.01", "1", "10"), not
    matplotlib's mathtext powers, which report figures do not parse (see the rcParams above)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    getattr(ax, f"set_{axis}scale")("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    plain = FuncFormatter(lambda value, _: lr_label(value))
    target.set_major_formatter(plain)
    target.set_minor_formatter(plain if minor_labels else NullFormatter())
