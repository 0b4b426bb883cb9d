"""Plots for what BPTTModel records."""

import numpy as np


def plot_gradient_norms(norms, ax=None, label=None, log_scale=True):
    """Plot the norm of dL/dh_t against the time step t.

    Args:
        norms: what `BPTTModel.gradient_norms_through_time` returns, a
            `(time,)` array.
        ax: a matplotlib Axes to draw on; a new figure's if None.
        label: the line's legend label, or None.
        log_scale: a logarithmic y axis, on which vanishing or exploding
            gradients show as straight slopes. Defaults to True.

    Returns:
        The matplotlib Axes.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plot_gradient_norms needs matplotlib: pip install matplotlib "
            "(or pip install keras-bp[apps])."
        ) from None
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 1:
        raise ValueError(f"`norms` must be a (time,) array, got shape {norms.shape}.")
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(np.arange(1, len(norms) + 1), norms, marker=".", label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title("Gradient norm through time")
    if label is not None:
        ax.legend()
    return ax
