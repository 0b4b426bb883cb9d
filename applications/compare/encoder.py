"""The 10-5-10 encoder of the Rprop literature, raced over random starts.

Ten one-hot patterns go through five sigmoid hidden units to ten sigmoid
outputs that must give the pattern back. Training is full batch (all ten
patterns a step) on the classic summed squared error
`E = 1/2 * sum over patterns and outputs of (target - output)**2`
(Riedmiller & Braun 1993). A start is solved once every output is within
`TOLERANCE` of its target, strictly: an output exactly 0.4 away is not
within it. Each start draws its weights and biases uniformly from
[-1, 1] (seeded), and every optimizer gets the same starts, with its class
default hyper-parameters; a start that has not solved the task after
`MAX_EPOCHS` updates counts as failed.

The loop over epochs runs inside one `tf.function` an optimizer, calling
`optimizer.apply(grads, variables, loss)` itself; between starts the
weights and the optimizer's own variables (step sizes, moments, the
iteration count, the kept loss) are put back to their values at a fresh
start, so the starts stay independent.
"""

import inspect
import statistics
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from applications.common.optimizers import OPTIMIZERS

SIZE = 10
HIDDEN = 5
TOLERANCE = 0.4
STARTS = 25
MAX_EPOCHS = 500
INIT_RANGE = 1.0


def solved(outputs, targets, tolerance: float = TOLERANCE):
    """Whether every output is strictly within `tolerance` of its target.

    Works on NumPy arrays and on tensors inside a `tf.function`; returns a
    boolean scalar tensor.
    """
    return keras.ops.all(keras.ops.abs(outputs - targets) < tolerance)


def starts(count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """`count` random starts: `[W1, b1, W2, b2]` float32, uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    shapes = [(SIZE, HIDDEN), (HIDDEN,), (HIDDEN, SIZE), (SIZE,)]
    return [
        [rng.uniform(-INIT_RANGE, INIT_RANGE, s).astype(np.float32) for s in shapes]
        for _ in range(count)
    ]


def race(
    optimizer_name: str, initial: list[list[np.ndarray]], max_epochs: int = MAX_EPOCHS
) -> dict[str, Any]:
    """Train from every start in `initial` with the optimizer `optimizer_name`.

    Returns:
        `epochs`: per start, the updates made before the outputs were
        within the tolerance, or None for a start that was not solved
        within `max_epochs`; and `seconds`, the wall time of all starts.
    """
    variables = [keras.Variable(w, name=f"w{i}") for i, w in enumerate(initial[0])]
    optimizer = OPTIMIZERS[optimizer_name].build()
    optimizer.build(variables)
    fresh_state = [v.numpy() for v in optimizer.variables]
    patterns = tf.eye(SIZE)
    # iRprop+ compares the loss between steps; Keras's optimizers take none.
    takes_loss = "loss" in inspect.signature(optimizer.apply).parameters

    def forward():
        w1, b1, w2, b2 = variables
        hidden = tf.sigmoid(patterns @ w1 + b1)
        return tf.sigmoid(hidden @ w2 + b2)

    @tf.function
    def train():
        epoch = tf.constant(0)
        outputs = forward()
        while epoch < max_epochs and not solved(outputs, patterns):
            with tf.GradientTape() as tape:
                loss = 0.5 * tf.reduce_sum(tf.square(patterns - forward()))
            grads = tape.gradient(loss, variables)
            if takes_loss:
                optimizer.apply(grads, variables, loss=loss)
            else:
                optimizer.apply(grads, variables)
            epoch += 1
            outputs = forward()
        return epoch, solved(outputs, patterns)

    epochs = []
    start = time.perf_counter()
    for weights in initial:
        for variable, value in zip(variables, weights, strict=True):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, fresh_state, strict=True):
            variable.assign(value)
        count, done = train()
        epochs.append(int(count) if bool(done) else None)
    return {"epochs": epochs, "seconds": time.perf_counter() - start}


def summary(epochs: list[int | None]) -> dict[str, Any]:
    """Fraction solved and the mean, median, min and max epochs of the solved."""
    done = [e for e in epochs if e is not None]
    return {
        "starts": len(epochs),
        "solved": len(done),
        "fraction_solved": len(done) / len(epochs),
        "mean_epochs": statistics.fmean(done) if done else None,
        "median_epochs": statistics.median(done) if done else None,
        "min_epochs": min(done, default=None),
        "max_epochs": max(done, default=None),
    }
