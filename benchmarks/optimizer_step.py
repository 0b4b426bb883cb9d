"""Time one training step of each optimizer on the same models, in one process.

    python benchmarks/optimizer_step.py [--steps 200] [--rounds 5]

For a dense network and a small CNN, every optimizer trains the same model
(same initial weights, same batch) through `train_on_batch`. After a warm-up,
the optimizers take turns in rounds of `--steps` steps each, so that drifts of
the machine's speed hit them all alike; the table shows the median time of one
step and its ratio to Adam's.
"""

import argparse
import statistics
import time

import keras
import numpy as np

import keras_bp

OPTIMIZERS = {
    "rprop+": lambda: keras_bp.Rprop(variant="rprop+"),
    "rprop-": lambda: keras_bp.Rprop(variant="rprop-"),
    "irprop+": lambda: keras_bp.Rprop(variant="irprop+"),
    "irprop-": lambda: keras_bp.Rprop(variant="irprop-"),
    "recurrent": lambda: keras_bp.RecurrentBackprop(),
    "sgd-momentum": lambda: keras.optimizers.SGD(momentum=0.9),
    "adam": lambda: keras.optimizers.Adam(),
    "sgd": lambda: keras.optimizers.SGD(),
}
BASELINE = "adam"


def dense_model():
    inputs = keras.Input((784,))
    x = keras.layers.Dense(256, activation="relu")(inputs)
    x = keras.layers.Dense(256, activation="relu")(x)
    return keras_bp.Model(inputs, keras.layers.Dense(10)(x)), (784,)


def cnn_model():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dense(10)(keras.layers.Flatten()(x))
    return keras_bp.Model(inputs, x), (28, 28, 1)


def step_times(build_model, batch_size, steps, rounds):
    """Median seconds per step for each optimizer."""
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    template, input_shape = build_model()
    x = rng.normal(size=(batch_size, *input_shape)).astype("float32")
    y = rng.integers(0, 10, size=batch_size)
    models = {}
    for name, make_optimizer in OPTIMIZERS.items():
        model, _ = build_model()
        model.set_weights(template.get_weights())
        model.compile(
            optimizer=make_optimizer(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        for _ in range(10):
            model.train_on_batch(x, y)
        models[name] = model
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'model':<6} {'optimizer':<16} {'ms/step':>8} {'vs ' + BASELINE:>8}")
    for label, build_model, batch_size in [
        ("dense", dense_model, 512),
        ("cnn", cnn_model, 128),
    ]:
        times = step_times(build_model, batch_size, args.steps, args.rounds)
        for name, seconds in times.items():
            ratio = seconds / times[BASELINE]
            print(f"{label:<6} {name:<16} {seconds * 1e3:8.3f} {ratio:8.3f}")


if __name__ == "__main__":
    main()
