"""BPTTModel gradients: the reference case, NumPy, Keras's own RNN layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bp import BPTTModel
from tests.models.bptt_helpers import (
    compile_and_fit,
    elman,
    floatx,
    load_case,
    random_elman,
    record_windows,
    weights_of,
)
from tests.models.bptt_reference import (
    NAMES,
    sgd,
    truncated_bptt,
    window_loss_and_grads,
)

GRADIENTS = ("autodiff", "explicit")


def assert_grads_close(grads, expected, atol):
    for grad, name in zip(grads, NAMES):
        np.testing.assert_allclose(grad, expected[name], atol=atol, err_msg=name)


def case_arrays(case, dtype="float64"):
    return np.array(case["x"], dtype), np.array(case["y"], dtype)


# --- the reference case ------------------------------------------------------


@pytest.mark.parametrize("gradient", GRADIENTS)
def test_full_bptt_loss_and_gradients_match_reference_case(gradient):
    case = load_case()
    x, y = case_arrays(case)
    model = elman(case["weights"], gradient=gradient)
    [(loss, grads)] = record_windows(model, x, y)
    np.testing.assert_allclose(loss, case["full"]["loss"], atol=1e-10)
    assert_grads_close(grads, case["full"]["grads"], atol=1e-10)


@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_truncated_window_losses_and_gradients_match_reference_case(gradient, index):
    case = load_case()
    truncated = case["truncated"][index]
    x, y = case_arrays(case)
    model = elman(
        case["weights"], k1=truncated["k1"], k2=truncated["k2"], gradient=gradient
    )
    records = record_windows(model, x, y, learning_rate=truncated.get("sgd_lr", 0.0))
    assert len(records) == len(truncated["windows"])
    for (loss, grads), window in zip(records, truncated["windows"]):
        np.testing.assert_allclose(loss, window["loss"], atol=1e-10)
        assert_grads_close(grads, window["grads"], atol=1e-10)
    if "weights_after" in truncated:
        after = weights_of(model)
        for name in NAMES:
            np.testing.assert_allclose(
                after[name], truncated["weights_after"][name], atol=1e-10
            )


@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("index", [2, 3])
def test_one_compiled_epoch_of_truncated_sgd_matches_reference_weights(gradient, index):
    case = load_case()
    truncated = case["truncated"][index]
    x, y = case_arrays(case)
    model = elman(
        case["weights"], k1=truncated["k1"], k2=truncated["k2"], gradient=gradient
    )
    history = compile_and_fit(
        model,
        x,
        y,
        lambda: keras.optimizers.SGD(truncated["sgd_lr"]),
        jit_compile=False,
    )
    after = weights_of(model)
    for name in NAMES:
        np.testing.assert_allclose(
            after[name], truncated["weights_after"][name], atol=1e-10
        )
    assert int(model.optimizer.iterations) == len(truncated["windows"])
    mean_loss = np.mean([w["loss"] for w in truncated["windows"]])
    np.testing.assert_allclose(history.history["loss"][0], mean_loss, atol=1e-10)


@pytest.mark.parametrize("gradient", GRADIENTS)
def test_jit_compiled_truncated_sgd_matches_reference_weights(gradient):
    case = load_case()
    truncated = case["truncated"][3]
    x, y = case_arrays(case, "float32")
    model = elman(
        case["weights"],
        dtype="float32",
        k1=truncated["k1"],
        k2=truncated["k2"],
        gradient=gradient,
    )
    compile_and_fit(
        model, x, y, lambda: keras.optimizers.SGD(truncated["sgd_lr"]), jit_compile=True
    )
    after = weights_of(model)
    for name in NAMES:
        np.testing.assert_allclose(
            after[name], truncated["weights_after"][name], atol=1e-6
        )


# --- random networks: explicit == autodiff == NumPy ------------------------------


@pytest.mark.parametrize(
    "k1, k2, steps",
    [(None, None, 9), (3, 3, 9), (2, 5, 9), (4, 6, 11), (3, 20, 7)],
)
def test_explicit_equals_autodiff_in_float32_on_random_networks(k1, k2, steps):
    weights = random_elman(seed=steps + (k2 or 0))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, steps, 3)).astype("float32")
    y = rng.normal(size=(4, steps, 2)).astype("float32")
    runs = [
        record_windows(
            elman(weights, "float32", k1=k1, k2=k2, gradient=gradient),
            x,
            y,
            learning_rate=0.05,
        )
        for gradient in GRADIENTS
    ]
    assert len(runs[0]) == len(runs[1]) == (1 if k1 is None else -(-steps // k1))
    for (loss_a, grads_a), (loss_e, grads_e) in zip(*runs):
        np.testing.assert_allclose(loss_e, loss_a, atol=1e-6)
        for grad_a, grad_e in zip(grads_a, grads_e):
            np.testing.assert_allclose(grad_e, grad_a, atol=1e-6)


@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("k1, k2", [(3, 3), (4, 6), (2, 7)])
def test_truncated_sgd_on_ragged_sequence_matches_numpy(gradient, k1, k2):
    # T = 11 is no multiple of k1: the last window scores T mod k1 steps.
    weights = random_elman(seed=k1 * 10 + k2)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3, 11, 3)), rng.normal(size=(3, 11, 2))
    model = elman(weights, k1=k1, k2=k2, gradient=gradient)
    records = record_windows(model, x, y, learning_rate=0.1)
    expected, expected_weights = truncated_bptt(weights, x, y, k1, k2, sgd(0.1))
    assert len(records) == len(expected)
    for (loss, grads), (expected_loss, expected_grads) in zip(records, expected):
        np.testing.assert_allclose(loss, expected_loss, atol=1e-10)
        assert_grads_close(grads, expected_grads, atol=1e-10)
    after = weights_of(model)
    for name in NAMES:
        np.testing.assert_allclose(after[name], expected_weights[name], atol=1e-10)


@pytest.mark.parametrize("gradient", GRADIENTS)
def test_masked_full_bptt_matches_numpy_and_keras_simple_rnn(gradient):
    weights = random_elman(seed=5, features=4, outputs=1)
    tokens = np.array([[3, 1, 2, 4, 0, 0], [2, 2, 0, 0, 0, 0], [1, 4, 3, 2, 1, 3]])
    y = np.random.default_rng(3).normal(size=(3, 6, 1))
    embedding = np.random.default_rng(4).normal(size=(5, 4))
    model = elman(
        weights,
        input_shape=(None, 6),
        gradient=gradient,
        embedding=keras.layers.Embedding(5, 4, mask_zero=True, dtype="float64"),
    )
    model.embedding.embeddings.assign(embedding)
    [(loss, grads)] = record_windows(model, tokens, y)
    mask = tokens != 0
    expected_loss, expected, _, _ = window_loss_and_grads(
        weights, embedding[tokens], y, np.zeros((3, 5)), 6, mask
    )
    np.testing.assert_allclose(loss, expected_loss, atol=1e-10)
    # trainable_weights: the embedding first, then the cell's and the head's.
    assert_grads_close(grads[1:], expected, atol=1e-10)

    with floatx("float64"):
        keras_model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Embedding(5, 4, mask_zero=True),
                keras.layers.SimpleRNN(5, return_sequences=True),
                keras.layers.Dense(1),
            ]
        )
        keras_model.set_weights([np.array(v) for v in model.trainable_weights])
        keras_model.compile(loss="mse")
        with tf.GradientTape() as tape:
            keras_loss = keras_model.compute_loss(y=y, y_pred=keras_model(tokens))
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    np.testing.assert_allclose(loss, float(keras_loss), atol=1e-10)
    for grad, keras_grad in zip(grads, keras_grads):
        np.testing.assert_allclose(grad, tf.convert_to_tensor(keras_grad), atol=1e-10)


@pytest.mark.parametrize("k1, k2", [(2, 2), (2, 5)])
def test_masked_truncated_explicit_equals_autodiff(k1, k2):
    tokens = np.array(
        [[3, 1, 2, 4, 0, 0, 0], [2, 2, 0, 0, 0, 0, 0], [1, 4, 3, 2, 1, 3, 2]]
    )
    y = np.random.default_rng(3).normal(size=(3, 7, 1)).astype("float32")
    runs = []
    for gradient in GRADIENTS:
        keras.utils.set_random_seed(7)
        model = BPTTModel(
            keras.layers.SimpleRNNCell(4),
            keras.layers.Dense(1),
            k1=k1,
            k2=k2,
            gradient=gradient,
            embedding=keras.layers.Embedding(5, 3, mask_zero=True),
        )
        runs.append(record_windows(model, tokens, y, learning_rate=0.1))
    for (loss_a, grads_a), (loss_e, grads_e) in zip(*runs):
        np.testing.assert_allclose(loss_e, loss_a, atol=1e-6)
        for grad_a, grad_e in zip(grads_a, grads_e):
            np.testing.assert_allclose(grad_e, grad_a, atol=1e-6)


# --- other cells, against Keras's RNN layer on the same cell -----------------------


def keras_window(cell, head, x, y, initial_state, loss_steps):
    """Loss and gradients of one window through keras.layers.RNN(cell)."""
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    with tf.GradientTape() as tape:
        outputs, *states = layer(x, initial_state=initial_state)
        predictions = head(outputs[:, -loss_steps:])
        loss = keras.losses.mean_squared_error(y, predictions)
        loss = tf.reduce_mean(loss)
    variables = cell.trainable_weights + head.trainable_weights
    return float(loss), tape.gradient(loss, variables), states


@pytest.mark.parametrize("make_cell", [keras.layers.LSTMCell, keras.layers.GRUCell])
def test_truncated_windows_of_gated_cells_match_keras_rnn_layer(make_cell):
    # k1 = k2 = 3 over T = 6: the second window starts from the (h, c) the
    # first one computed, which keras.layers.RNN receives as initial_state.
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    y = rng.normal(size=(2, 6, 1)).astype("float32")
    model = BPTTModel(make_cell(4), keras.layers.Dense(1), k1=3, k2=3)
    records = record_windows(model, x, y)
    states = [tf.zeros((2, 4)) for _ in tf.nest.flatten(model.cell.state_size)]
    for window, (loss, grads) in enumerate(records):
        steps = slice(3 * window, 3 * window + 3)
        expected_loss, expected, states = keras_window(
            model.cell, model.head, x[:, steps], y[:, steps], states, 3
        )
        np.testing.assert_allclose(loss, expected_loss, atol=1e-6)
        for grad, expected_grad in zip(grads, expected):
            np.testing.assert_allclose(grad, expected_grad, atol=1e-6)


@pytest.mark.parametrize("k2", [None, 3])
def test_last_step_loss_backpropagates_k2_steps_from_the_end(k2):
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 7, 2)).astype("float32")
    y = rng.normal(size=(3, 1)).astype("float32")
    kwargs = {} if k2 is None else {"k1": 1, "k2": k2}
    model = BPTTModel(
        keras.layers.LSTMCell(4),
        keras.layers.Dense(1),
        return_sequences=False,
        **kwargs,
    )
    [(loss, grads)] = record_windows(model, x, y)
    layer = keras.layers.RNN(model.cell, return_state=True)
    start = 0 if k2 is None else 7 - k2
    states = [tf.zeros((3, 4)), tf.zeros((3, 4))]
    if start:
        _, *states = layer(x[:, :start], initial_state=states)
    with tf.GradientTape() as tape:
        last, *_ = layer(x[:, start:], initial_state=states)
        expected_loss = tf.reduce_mean(tf.square(model.head(last) - y))
    expected = tape.gradient(
        expected_loss, model.cell.trainable_weights + model.head.trainable_weights
    )
    np.testing.assert_allclose(loss, float(expected_loss), atol=1e-6)
    for grad, expected_grad in zip(grads, expected):
        np.testing.assert_allclose(grad, expected_grad, atol=1e-6)
