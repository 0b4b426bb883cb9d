"""What a run leaves in its output directory: metrics.json and a learning curve."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

# Plots go to files only; no display is needed (or present on a server).
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

METRICS_FILE = "metrics.json"
CURVE_FILE = "learning_curve.png"
MODEL_FILE = "model.keras"


def write_metrics(path: Path, metrics: Mapping[str, Any]) -> None:
    """Write `metrics` as indented JSON (NumPy scalars become numbers)."""
    path.write_text(json.dumps(metrics, indent=2, default=_plain) + "\n")


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")


def plot_learning_curve(
    history: Mapping[str, list[float]], path: Path, title: str
) -> None:
    """Plot each metric of a Keras `History.history` per epoch, one panel each.

    A metric `m` and its validation twin `val_m` share a panel.
    """
    names = [name for name in history if not name.startswith("val_")]
    figure, axes = plt.subplots(
        1, len(names), figsize=(5 * len(names), 4), squeeze=False
    )
    for axis, name in zip(axes[0], names, strict=True):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        if name == "loss":
            axis.set_yscale("log")
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


CONFUSION_FILE = "confusion_matrix.png"


def plot_confusion_matrix(
    matrix: np.ndarray | list, class_names: list[str] | tuple[str, ...], path: Path
) -> None:
    """Plot a confusion matrix (rows true, columns predicted), counts in cells."""
    matrix = np.asarray(matrix)
    size = max(4.0, 0.45 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046)
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=90)
    axis.set_yticks(ticks, class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    half = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            axis.text(
                column,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if count > half else "black",
            )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
