"""A plot of a series over time with forecasts of it drawn on top."""

from collections.abc import Mapping
from pathlib import Path

import matplotlib

# Plots go to files only; no display is needed (or present on a server).
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_series(
    time: np.ndarray,
    actual: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    path: Path,
    *,
    title: str,
    ylabel: str = "",
) -> None:
    """Plot `actual` against `time`, and each named forecast of it, to `path`."""
    figure, axis = plt.subplots(figsize=(11, 4.5))
    axis.plot(time, actual, color="black", linewidth=1.2, label="actual")
    for name, values in forecasts.items():
        axis.plot(time, values, linewidth=1.0, alpha=0.85, label=name)
    axis.set_title(title)
    axis.set_ylabel(ylabel)
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
