"""Callbacks that record what BPTTModel exposes during `fit`."""

import contextlib

import keras
import numpy as np


class GradientNormsThroughTime(keras.callbacks.Callback):
    """Record `BPTTModel.gradient_norms_through_time` on one batch as training goes.

    At the end of every `every`-th epoch the callback computes the norm of
    dL/dh_t at each time step on the fixed batch `(x, y)` with the current
    weights, so a run shows how vanishing or exploding gradients evolve.

    ```python
    norms = keras_bp.GradientNormsThroughTime(x[:64], y[:64])
    model.fit(x, y, epochs=20, callbacks=[norms])
    keras_bp.plot_gradient_norms(norms.norms[-1], label=f"epoch {norms.epochs[-1]}")
    ```

    Args:
        x, y: the batch to measure on, as for `gradient_norms_through_time`.
        sample_weight: optional weights of that batch.
        every: measure every `every` epochs, a positive integer. Defaults to 1.

    Attributes:
        epochs: the (1-based) epochs measured.
        norms: one `(time,)` array per measured epoch.
    """

    def __init__(self, x, y, sample_weight=None, every=1):
        super().__init__()
        integer = isinstance(every, (int, np.integer)) and not isinstance(every, bool)
        if not integer or every < 1:
            raise ValueError(f"`every` must be a positive integer, got {every!r}.")
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.every = int(every)
        self.epochs: list[int] = []
        self.norms: list[np.ndarray] = []

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "gradient_norms_through_time"):
            raise ValueError(
                "GradientNormsThroughTime needs a keras_bp.BPTTModel, got "
                f"{type(self.model).__name__}."
            )
        # Before the first epoch where possible (a feature count can only be
        # checked once the model is built, in the first step).
        with _about_the_batch():
            self.model._check_batch(self.x, self.y)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        with _about_the_batch():
            norms = self.model.gradient_norms_through_time(
                self.x, self.y, self.sample_weight
            )
        self.epochs.append(epoch + 1)
        self.norms.append(norms)


@contextlib.contextmanager
def _about_the_batch():
    """Say which batch a ValueError is about."""
    try:
        yield
    except ValueError as error:
        raise ValueError(f"GradientNormsThroughTime's batch: {error}") from None
