"""The forecaster: a recurrent cell unrolled by `keras_bp.BPTTModel`.

The cell reads a window of past values (each relative to the window's last
value) and a dense head maps its last output to the changes over the next
`horizon` steps. Training is full BPTT through the window by default, or
truncated BPTT(k2; k1) with `k1`/`k2`.
"""

import time
from dataclasses import dataclass

import keras
import numpy as np

import keras_bp
from applications.common.data import Splits
from applications.common.optimizers import OPTIMIZERS, batch_size_for

CELLS = {
    "simple": keras.layers.SimpleRNNCell,
    "gru": keras.layers.GRUCell,
    "lstm": keras.layers.LSTMCell,
}


def build(
    cell: str,
    units: int,
    horizon: int,
    *,
    k1: int | None = None,
    k2: int | None = None,
) -> keras_bp.BPTTModel:
    """A `BPTTModel` of a `cell` (a key of `CELLS`) with `units` units.

    With the loss on the last step only (`return_sequences=False`), the
    gradient flows back `k2` steps from the end of the window (all of them
    for `k2=None`).
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    return keras_bp.BPTTModel(
        CELLS[cell](units),
        keras.layers.Dense(horizon),
        k1=k1,
        k2=k2,
        return_sequences=False,
        name=f"forecaster_{cell}",
    )


@dataclass
class Trained:
    """One trained model and how its training went."""

    model: keras_bp.BPTTModel
    history: dict
    best_epoch: int
    fit_seconds: float
    batch_size: int
    optimizer: keras.optimizers.Optimizer


def train(
    splits: Splits,
    make_model,
    *,
    optimizer: str,
    learning_rate: float | None,
    batch_size: int | None,
    epochs: int,
    patience: int,
    seed: int,
    verbose: int = 0,
) -> Trained:
    """Seed, build, compile and fit on `splits.train`, stopping early.

    Training stops once the validation loss has not improved for `patience`
    epochs, and the weights of the best validation epoch are restored.
    """
    keras.utils.set_random_seed(seed)
    model = make_model()
    chosen = OPTIMIZERS[optimizer].build(learning_rate)
    model.compile(optimizer=chosen, loss="mse")
    x_train, y_train = splits.train
    size = batch_size_for(optimizer, batch_size, len(x_train))
    stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        validation_data=splits.validation,
        epochs=epochs,
        batch_size=size,
        callbacks=[stop],
        verbose=verbose,
    )
    fit_seconds = time.perf_counter() - start
    best = int(np.argmin(history.history["val_loss"])) + 1
    return Trained(model, history.history, best, fit_seconds, size, chosen)


def predict(model: keras.Model, inputs: np.ndarray) -> np.ndarray:
    """The model's scaled forecasts `(n, horizon)` for `inputs`."""
    return np.asarray(model.predict(inputs, batch_size=4096, verbose=0))
