"""BPTTModel in use: fit/evaluate/predict, saving, optimizers, diagnostics."""

import keras
import numpy as np
import pytest

import keras_bp
from keras_bp import BPTTModel
from tests.models.bptt_helpers import (
    compile_and_fit,
    elman,
    fit_one_epoch,
    floatx,
    load_case,
    random_elman,
    record_windows,
    weights_of,
)
from tests.models.bptt_reference import NAMES, truncated_bptt, window_loss_and_grads
from tests.optimizers.rprop_reference import NumpyRprop


def sequences(seed=0, batch=8, steps=10, features=3, outputs=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    return x, rng.normal(size=(batch, steps, outputs)).astype("float32")


def test_fit_evaluate_predict_and_callbacks():
    keras.utils.set_random_seed(0)
    x, y = sequences()
    model = BPTTModel(keras.layers.GRUCell(6), keras.layers.Dense(1), k1=3, k2=5)
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    batches = []
    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(logs["loss"])
    )
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[callback])
    assert len(batches) == 6
    assert history.history["loss"][-1] < history.history["loss"][0]
    # 2 batches an epoch, ceil(10 / 3) = 4 windows each.
    assert int(model.optimizer.iterations) == 3 * 2 * 4
    predictions = model.predict(x, verbose=0)
    assert predictions.shape == (8, 10, 1)
    # predict and evaluate run keras.layers.RNN's forward pass, same cell.
    reference = model.head(keras.layers.RNN(model.cell, return_sequences=True)(x))
    np.testing.assert_allclose(predictions, reference, atol=1e-5)
    loss, mae = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(loss, np.mean((reference - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(mae, np.mean(np.abs(reference - y)), rtol=1e-5)


def test_save_and_load_keep_truncation_cell_head_and_optimizer_state(tmp_path):
    keras.utils.set_random_seed(1)
    x, y = sequences(batch=4)
    model = BPTTModel(
        keras.layers.LSTMCell(5),
        keras.layers.Dense(1, activation="tanh"),
        k1=2,
        k2=4,
        name="bptt",
    )
    model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=False)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "bptt.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, BPTTModel)
    assert (loaded.k1, loaded.k2, loaded.gradient) == (2, 4, "autodiff")
    assert isinstance(loaded.cell, keras.layers.LSTMCell) and loaded.cell.units == 5
    assert loaded.head.get_config()["activation"] == "tanh"
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 5
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(restored, saved)
    # Training on from the saved state gives what the original model gives.
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for original, restored in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(restored, original, atol=1e-6)


def test_save_and_load_keep_explicit_gradient_and_embedding(tmp_path):
    keras.utils.set_random_seed(2)
    tokens = np.array([[1, 2, 3, 0], [3, 3, 0, 0]])
    model = BPTTModel(
        keras.layers.SimpleRNNCell(3),
        keras.layers.Dense(2),
        gradient="explicit",
        return_sequences=False,
        embedding=keras.layers.Embedding(4, 2, mask_zero=True),
    )
    model.compile(keras_bp.Rprop(variant="irprop+"), "mse", jit_compile=False)
    model.fit(tokens, np.ones((2, 2)), verbose=0)
    model.save(tmp_path / "explicit.keras")
    loaded = keras.models.load_model(tmp_path / "explicit.keras")
    assert (loaded.gradient, loaded.return_sequences) == ("explicit", False)
    assert loaded.embedding.mask_zero
    assert loaded.optimizer.variant == "irprop+"
    np.testing.assert_allclose(
        loaded.predict(tokens, verbose=0), model.predict(tokens, verbose=0), atol=1e-6
    )


@pytest.mark.parametrize("gradient", ["autodiff", "explicit"])
def test_irprop_plus_gets_each_window_loss(gradient):
    # iRprop+ undoes a step only when the loss rose: it must see the loss of
    # every window, which the NumPy run hands to NumpyRprop the same way.
    case = load_case()
    x, y = np.array(case["x"]), np.array(case["y"])
    settings = {"lr": 0.05, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)}
    rprops = {}

    def update(weights, grads, loss):
        for name in NAMES:
            if name not in rprops:
                rprops[name] = NumpyRprop(weights[name], variant="irprop+", **settings)
            rprops[name].step(grads[name], loss)
        return {name: rprops[name].w.copy() for name in NAMES}

    weights = case["weights"]
    for _ in range(3):
        _, weights = truncated_bptt(weights, x, y, 3, 6, update)
    model = elman(case["weights"], k1=3, k2=6, gradient=gradient)
    with floatx("float64"):
        model.compile(
            keras_bp.Rprop(learning_rate=settings["lr"], variant="irprop+"),
            "mse",
            jit_compile=False,
        )
        for _ in range(3):
            fit_one_epoch(model, x, y)
    after = weights_of(model)
    for name in NAMES:
        np.testing.assert_allclose(after[name], weights[name], atol=1e-10)


@pytest.mark.parametrize("clip", ["clipnorm", "global_clipnorm"])
def test_gradient_clipping_applies_to_the_window_gradients(clip):
    case = load_case()
    x, y = np.array(case["x"]), np.array(case["y"])
    window = case["truncated"][0]["windows"][0]  # k1 = k2 = 4, steps 1..4
    model = elman(case["weights"], k1=4, k2=4)
    compile_and_fit(
        model,
        x[:, :4],
        y[:, :4],
        lambda: keras.optimizers.SGD(1.0, **{clip: 0.01}),
        jit_compile=False,
    )
    grads = {name: np.array(g) for name, g in window["grads"].items()}
    norms = {name: np.linalg.norm(g) for name, g in grads.items()}
    total = np.sqrt(sum(n**2 for n in norms.values()))
    after = weights_of(model)
    for name in NAMES:
        norm = norms[name] if clip == "clipnorm" else total
        expected = np.array(case["weights"][name]) - grads[name] * min(1, 0.01 / norm)
        np.testing.assert_allclose(after[name], expected, atol=1e-10)


def test_dropout_cells_train_and_jit_compile():
    keras.utils.set_random_seed(3)
    x, y = sequences(batch=4, steps=6)
    model = BPTTModel(
        keras.layers.LSTMCell(4, dropout=0.2, recurrent_dropout=0.2),
        keras.layers.Dense(1),
        k1=3,
        k2=3,
    )
    model.compile("adam", "mse", jit_compile=True)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


# --- gradient norms through time -----------------------------------------------


@pytest.mark.parametrize("gradient", ["autodiff", "explicit"])
def test_gradient_norms_through_time_match_numpy(gradient):
    case = load_case()
    x, y = np.array(case["x"]), np.array(case["y"])
    model = elman(case["weights"], gradient=gradient)
    with floatx("float64"):
        model.compile("sgd", "mse")
        norms = model.gradient_norms_through_time(x, y)
    _, _, _, dstates = window_loss_and_grads(
        case["weights"], x, y, np.zeros((2, 3)), 12
    )
    np.testing.assert_allclose(norms, np.linalg.norm(dstates, axis=(0, 2)), atol=1e-10)


def test_gradient_norms_count_masked_steps_and_agree_across_gradients():
    tokens = np.array([[1, 2, 3, 0, 0], [2, 1, 1, 3, 0]])
    y = np.random.default_rng(0).normal(size=(2, 5, 1)).astype("float32")
    norms = []
    for gradient in ["autodiff", "explicit"]:
        keras.utils.set_random_seed(5)
        model = BPTTModel(
            keras.layers.SimpleRNNCell(3),
            keras.layers.Dense(1),
            gradient=gradient,
            embedding=keras.layers.Embedding(4, 2, mask_zero=True),
        )
        model.compile("sgd", "mse")
        norms.append(model.gradient_norms_through_time(tokens, y))
    np.testing.assert_allclose(norms[1], norms[0], atol=1e-6)
    # The last step is padding for both sequences: nothing depends on it.
    assert norms[0][-1] == 0 and np.all(norms[0][:-1] > 0)


def test_gradient_norms_of_lstm_include_the_cell_state():
    keras.utils.set_random_seed(6)
    x, y = sequences(batch=2, steps=5)
    model = BPTTModel(keras.layers.LSTMCell(3), keras.layers.Dense(1))
    model.compile("sgd", "mse")
    norms = model.gradient_norms_through_time(x, y)
    # At the last step only h reaches the loss, directly: dL/dh_T is the
    # head's kernel times dL/dy_T.
    predictions = model.predict(x, verbose=0)
    d_y = 2 * (predictions[:, -1] - y[:, -1]) / y.size
    expected_last = np.linalg.norm(d_y @ np.array(model.head.kernel).T)
    assert norms.shape == (5,)
    np.testing.assert_allclose(norms[-1], expected_last, rtol=1e-5)


@pytest.mark.parametrize("gradient", ["autodiff", "explicit"])
def test_gradient_norms_callback_records_the_reference_norms(gradient):
    case = load_case()
    x, y = np.array(case["x"]), np.array(case["y"])
    model = elman(case["weights"], gradient=gradient)
    recorder = keras_bp.GradientNormsThroughTime(x, y, every=2)
    with floatx("float64"):
        # A zero learning rate keeps the case's weights, hence its norms.
        model.compile(keras.optimizers.SGD(0.0), "mse")
        model.fit(x, y, batch_size=len(x), epochs=5, verbose=0, callbacks=[recorder])
    _, _, _, dstates = window_loss_and_grads(
        case["weights"], x, y, np.zeros((2, 3)), 12
    )
    assert recorder.epochs == [2, 4]
    for norms in recorder.norms:
        np.testing.assert_allclose(
            norms, np.linalg.norm(dstates, axis=(0, 2)), atol=1e-10
        )


def test_gradient_norms_callback_follows_the_training():
    keras.utils.set_random_seed(8)
    x, y = sequences(batch=4, steps=6)
    model = BPTTModel(keras.layers.GRUCell(3), keras.layers.Dense(1), k1=3, k2=3)
    model.compile(keras.optimizers.SGD(0.5), "mse")
    recorder = keras_bp.GradientNormsThroughTime(x, y)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[recorder])
    assert recorder.epochs == [1, 2]
    assert not np.allclose(recorder.norms[0], recorder.norms[1])
    np.testing.assert_allclose(
        recorder.norms[-1], model.gradient_norms_through_time(x, y), rtol=1e-6
    )


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_gradient_norms_callback_rejects_a_bad_period(every):
    with pytest.raises(ValueError, match="`every` must be a positive integer"):
        keras_bp.GradientNormsThroughTime(
            np.ones((1, 2, 1)), np.ones((1, 2, 1)), every=every
        )


def test_gradient_norms_callback_needs_a_bptt_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    recorder = keras_bp.GradientNormsThroughTime(np.ones((2, 2)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="needs a keras_bp.BPTTModel"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)), verbose=0, callbacks=[recorder])


def test_gradient_norms_need_a_compiled_loss():
    model = BPTTModel(keras.layers.SimpleRNNCell(2), keras.layers.Dense(1))
    x, y = sequences(batch=2, steps=3)
    with pytest.raises(ValueError, match="compile"):
        model.gradient_norms_through_time(x, y)


def test_plot_gradient_norms_draws_one_point_a_step():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = keras_bp.plot_gradient_norms(np.array([1.0, 0.5, 0.25]), label="rnn")
    [line] = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log"


def test_plot_gradient_norms_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        keras_bp.plot_gradient_norms([1.0])


def test_explicit_training_recovers_the_same_weights_as_autodiff_with_adam():
    x, y = sequences(batch=4, steps=7, outputs=2)
    weights = random_elman(seed=9, outputs=2)
    finals = []
    for gradient in ["autodiff", "explicit"]:
        model = elman(weights, "float32", k1=2, k2=4, gradient=gradient)
        model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=False)
        model.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
        finals.append(weights_of(model))
    for name in NAMES:
        np.testing.assert_allclose(finals[1][name], finals[0][name], atol=1e-5)


def test_masking_layer_marks_padded_float_steps():
    weights = random_elman(1, outputs=1)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(3, 6, 3)), rng.normal(size=(3, 6, 1))
    x[0, 4:] = 0.0
    x[2, 2:] = 0.0
    model = elman(weights, embedding=keras.layers.Masking(dtype="float64"))
    [(loss, grads)] = record_windows(model, x, y)
    expected_loss, expected, _, _ = window_loss_and_grads(
        weights, x, y, np.zeros((3, 5)), 6, np.any(x != 0, axis=-1)
    )
    np.testing.assert_allclose(loss, expected_loss, atol=1e-10)
    for grad, name in zip(grads, NAMES):
        np.testing.assert_allclose(grad, expected[name], atol=1e-10)


@pytest.mark.parametrize(
    "cell, kwargs",
    [
        (keras.layers.GRUCell, {}),
        (keras.layers.GRUCell, {"k1": 3, "k2": 5}),
        (keras.layers.SimpleRNNCell, {"gradient": "explicit", "k1": 4, "k2": 4}),
    ],
)
def test_mixed_precision_trains_as_float32_does(cell, kwargs):
    x, y = sequences(batch=4, steps=12)
    predictions = []
    for policy in ("float32", "mixed_float16"):
        with floatx("float32"):
            keras.config.set_dtype_policy(policy)
            keras.utils.set_random_seed(3)
            model = BPTTModel(cell(4), keras.layers.Dense(1, dtype="float32"), **kwargs)
            model.compile(keras.optimizers.SGD(0.1), "mse")
            model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
            predictions.append(model.predict(x, verbose=0))
    assert model.cell.compute_dtype == "float16"
    # float16 keeps about three significant digits.
    np.testing.assert_allclose(predictions[1], predictions[0], atol=5e-3)
