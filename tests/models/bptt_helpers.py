"""Shared pieces of the BPTTModel tests: the reference case and recorders."""

import contextlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bp import BPTTModel
from tests.models.bptt_reference import NAMES

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases"


def load_case(name="bptt_elman.json"):
    path = CASES / name
    if not path.exists():
        pytest.skip(f"reference cases not found at {path}")
    return json.loads(path.read_text())


class Recorder(keras.optimizers.SGD):
    """SGD that keeps the loss and gradients of every update (run eagerly)."""

    def __init__(self, learning_rate=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.records = []

    def apply(self, grads, trainable_variables=None, loss=None):
        # An Embedding's gradient comes as IndexedSlices: kept dense here.
        dense = [tf.convert_to_tensor(g).numpy() for g in grads]
        self.records.append((float(loss), dense))
        return super().apply(grads, trainable_variables)


def elman_variables(model):
    """The variables of a SimpleRNNCell + Dense model, in the order of `NAMES`."""
    cell, head = model.cell, model.head
    return (cell.kernel, cell.recurrent_kernel, cell.bias, head.kernel, head.bias)


def weights_of(model):
    """The Elman weights of a SimpleRNNCell + Dense model, keyed by `NAMES`."""
    return {name: np.array(v) for name, v in zip(NAMES, elman_variables(model))}


def elman(weights, dtype="float64", input_shape=None, **kwargs):
    """A BPTTModel holding the Elman `weights` (a dict keyed by `NAMES`)."""
    weights = {name: np.asarray(value) for name, value in weights.items()}
    units = weights["bias"].shape[0]
    model = BPTTModel(
        keras.layers.SimpleRNNCell(units, dtype=dtype),
        keras.layers.Dense(weights["output_bias"].shape[0], dtype=dtype),
        dtype=dtype,
        **kwargs,
    )
    model.build(input_shape or (None, None, weights["kernel"].shape[0]))
    for name, variable in zip(NAMES, elman_variables(model)):
        variable.assign(weights[name].astype(dtype))
    return model


def random_elman(seed, features=3, units=5, outputs=2):
    rng = np.random.default_rng(seed)
    return {
        "kernel": rng.normal(0, 0.6, (features, units)),
        "recurrent_kernel": rng.normal(0, 0.6, (units, units)),
        "bias": rng.normal(0, 0.1, units),
        "output_kernel": rng.normal(0, 0.6, (units, outputs)),
        "output_bias": rng.normal(0, 0.1, outputs),
    }


@contextlib.contextmanager
def floatx(dtype):
    """Keras's default float type (`fit` casts float inputs to it) and policy."""
    # Keras caches its global dtype policy on first use: set and restore it
    # too, or layers made later, in other tests, would keep `dtype`.
    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)
        keras.config.set_dtype_policy(policy)


def fit_one_epoch(model, x, y, **fit_kwargs):
    """One unshuffled epoch, one batch, with inputs in the model's dtype."""
    with floatx(model.dtype):
        return model.fit(
            x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, **fit_kwargs
        )


def compile_and_fit(model, x, y, make_optimizer, **compile_kwargs):
    """Compile with MSE and fit one epoch, all in the model's float type.

    `make_optimizer()` builds the optimizer, so that its learning rate has
    the model's float type too.
    """
    with floatx(model.dtype):
        model.compile(make_optimizer(), "mse", **compile_kwargs)
        return fit_one_epoch(model, x, y)


def record_windows(model, x, y, learning_rate=0.0):
    """`(loss, grads)` of every update in one epoch over (x, y), in order."""
    compile_and_fit(model, x, y, lambda: Recorder(learning_rate), run_eagerly=True)
    return model.optimizer.records
