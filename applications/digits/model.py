"""Digit classifiers built as `keras_bp.Model`, so every optimizer trains them.

`keras_bp.Model` hands the loss to the optimizer, which iRprop+ needs; with
any other optimizer it trains exactly as `keras.Model`.
"""

import keras

import keras_bp


def build_dense(
    input_shape: tuple[int, ...], num_classes: int, hidden_units: int = 64
) -> keras_bp.Model:
    """A multilayer perceptron: flatten, one tanh hidden layer, softmax."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hidden_units, activation="tanh")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras_bp.Model(inputs, outputs, name="digits_dense")


def build_cnn(
    input_shape: tuple[int, ...], num_classes: int, filters: int = 16
) -> keras_bp.Model:
    """Two 3x3 convolution + 2x2 max-pooling blocks, then softmax."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for width in (filters, 2 * filters):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras_bp.Model(inputs, outputs, name="digits_cnn")


BUILDERS = {"dense": build_dense, "cnn": build_cnn}


def build(
    kind: str, input_shape: tuple[int, ...], num_classes: int = 10
) -> keras_bp.Model:
    """The `kind` model (a key of `BUILDERS`) for images of `input_shape`."""
    if kind not in BUILDERS:
        raise ValueError(f"model must be one of {', '.join(BUILDERS)}, got {kind!r}")
    return BUILDERS[kind](input_shape, num_classes)
