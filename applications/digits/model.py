"""Digit classifiers built as `keras_bp.Model`, so every optimizer trains them.

`keras_bp.Model` hands the loss to the optimizer, which iRprop+ needs; with
any other optimizer it trains exactly as `keras.Model`.
"""

import keras

import keras_bp

# Full-batch Rprop drives the training loss to ~1e-9 on 1,258 images with
# ever larger weights, and test accuracy falls as it does; a small L2
# penalty on the kernels keeps the weights, and the accuracy, where they are.
DEFAULT_L2 = 3e-4


def build_dense(
    input_shape: tuple[int, ...],
    num_classes: int,
    hidden_units: int = 64,
    l2: float = DEFAULT_L2,
) -> keras_bp.Model:
    """A multilayer perceptron: flatten, one tanh hidden layer, softmax.

    `l2` weighs the L2 penalty on every kernel.
    """
    penalty = _l2(l2)
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hidden_units, "tanh", kernel_regularizer=penalty)(x)
    outputs = keras.layers.Dense(num_classes, "softmax", kernel_regularizer=penalty)(x)
    return keras_bp.Model(inputs, outputs, name="digits_dense")


def build_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    filters: int = 16,
    l2: float = DEFAULT_L2,
) -> keras_bp.Model:
    """Two 3x3 convolution + 2x2 max-pooling blocks, then softmax.

    `l2` weighs the L2 penalty on every kernel.
    """
    penalty = _l2(l2)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for width in (filters, 2 * filters):
        x = keras.layers.Conv2D(
            width, 3, padding="same", activation="relu", kernel_regularizer=penalty
        )(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, "softmax", kernel_regularizer=penalty)(x)
    return keras_bp.Model(inputs, outputs, name="digits_cnn")


def _l2(weight: float) -> keras.regularizers.Regularizer | None:
    return keras.regularizers.L2(weight) if weight else None


BUILDERS = {"dense": build_dense, "cnn": build_cnn}


def build(
    kind: str, input_shape: tuple[int, ...], num_classes: int = 10
) -> keras_bp.Model:
    """The `kind` model (a key of `BUILDERS`) for images of `input_shape`."""
    if kind not in BUILDERS:
        raise ValueError(f"model must be one of {', '.join(BUILDERS)}, got {kind!r}")
    return BUILDERS[kind](input_shape, num_classes)
