import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bp
from keras_bp.optimizers.recurrent import recurrent_update

CASES_FILE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "cases"
    / "forgetting_gradient_sequences.json"
)
CASES = json.loads(CASES_FILE.read_text())["cases"] if CASES_FILE.exists() else []
FORMS = {"scaled": True, "as_written": False}


def series_change(gradients, eta, lam, scale_history):
    """dw(n) straight from the series dw = -eta*g(n) - lam*g(n-1) - lam^2*g(n-2)..."""
    n = len(gradients) - 1
    history = sum(lam**k * gradients[n - k] for k in range(1, n + 1))
    if scale_history:
        return -eta * (gradients[n] + history)
    return -eta * gradients[n] - history


def replay(optimizer, w0, gradients):
    """The float64 weights after each step of `gradients`."""
    w = keras.Variable(np.asarray(w0, dtype=np.float64), dtype="float64")
    trajectory = []
    for g in gradients:
        optimizer.apply([tf.constant(g, tf.float64)], [w])
        trajectory.append(w.numpy().copy())
    return np.array(trajectory)


def float32_rounded(value):
    """Keras keeps the learning rate in float32."""
    return float(np.float32(value))


# --- the update rule -------------------------------------------------------


@pytest.mark.parametrize("scale_history", [True, False])
@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9])
def test_update_function_matches_the_series_step_by_step(scale_history, lam):
    rng = np.random.default_rng(0)
    gradients = list(rng.normal(size=(12, 3, 2)))
    eta = 0.05
    running_sum = np.zeros((3, 2))
    for n in range(len(gradients)):
        change, running_sum = recurrent_update(
            tf.constant(gradients[n]),
            tf.constant(running_sum),
            eta,
            forgetting_factor=lam,
            scale_history=scale_history,
        )
        running_sum = np.asarray(running_sum)
        np.testing.assert_allclose(
            change,
            series_change(gradients[: n + 1], eta, lam, scale_history),
            rtol=1e-12,
            atol=1e-14,
        )
        np.testing.assert_allclose(
            running_sum,
            -series_change(gradients[: n + 1], 1.0, lam, True),
            rtol=1e-12,
            atol=1e-14,
        )


@pytest.mark.skipif(not CASES, reason=f"reference cases not found at {CASES_FILE}")
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case_index", range(len(CASES) or 1))
def test_gradient_sequence_cases(case_index, form):
    case = CASES[case_index]
    optimizer = keras_bp.RecurrentBackprop(
        learning_rate=case["eta"],
        forgetting_factor=case["lam"],
        scale_history=FORMS[form],
    )
    trajectory = replay(optimizer, case["w0"], case["grads"])
    np.testing.assert_allclose(trajectory, case["expected"][form], atol=1e-6)


@pytest.mark.parametrize("lam", [0.5, 0.9])
def test_as_written_constant_gradient_closed_form(lam):
    eta, g = float32_rounded(0.01), np.array([1.5, -2.0])
    trajectory = replay(
        keras_bp.RecurrentBackprop(eta, lam, scale_history=False),
        np.zeros(2),
        [g] * 20,
    )
    changes = np.diff(trajectory, axis=0, prepend=np.zeros((1, 2)))
    for n, change in enumerate(changes):
        expected = -eta * g - g * lam * (1 - lam**n) / (1 - lam)
        np.testing.assert_allclose(change, expected, rtol=1e-10)


@pytest.mark.parametrize("lam", [0.5, 0.9])
def test_scaled_constant_gradient_closed_form(lam):
    eta, g = float32_rounded(0.01), np.array([1.5, -2.0])
    trajectory = replay(keras_bp.RecurrentBackprop(eta, lam), np.zeros(2), [g] * 20)
    changes = np.diff(trajectory, axis=0, prepend=np.zeros((1, 2)))
    for n, change in enumerate(changes):
        expected = -eta * g * (1 - lam ** (n + 1)) / (1 - lam)
        np.testing.assert_allclose(change, expected, rtol=1e-10)


def test_as_written_form_is_stable_exactly_inside_the_documented_bound():
    # E = h/2 * w^2; the docstring's bound for eta=0.05, h=10 is lam < 0.0952.
    eta, h = 0.05, 10.0

    def final_weight(lam, scale_history):
        w, running_sum = np.array(1.0), np.array(0.0)
        for _ in range(400):
            change, running_sum = recurrent_update(
                h * w,
                running_sum,
                eta,
                forgetting_factor=lam,
                scale_history=scale_history,
            )
            w = w + change
        return abs(float(w))

    assert final_weight(0.09, scale_history=False) < 1e-3
    assert final_weight(0.10, scale_history=False) > 1.0
    # The scaled form with the same eta is stable for lam up to 0.9 and beyond.
    assert final_weight(0.9, scale_history=True) < 1e-3


# --- in training -----------------------------------------------------------


def small_model(seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3),
        ]
    )


def regression_data(num_examples, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_examples, 6)).astype("float32")
    y = rng.normal(size=(num_examples, 3)).astype("float32")
    return x, y


def fit(model, optimizer, x, y, epochs=1, **compile_kwargs):
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0)
    return model.get_weights()


def test_scaled_form_matches_keras_sgd_momentum_over_50_steps():
    x, y = regression_data(200)
    ours = fit(small_model(), keras_bp.RecurrentBackprop(0.05, 0.9), x, y)
    keras_sgd = fit(small_model(), keras.optimizers.SGD(0.05, momentum=0.9), x, y)
    initial = small_model().get_weights()
    for w, reference, w0 in zip(ours, keras_sgd, initial, strict=True):
        assert not np.allclose(reference, w0, atol=1e-2)
        np.testing.assert_allclose(w, reference, rtol=1e-5, atol=1e-6)


def test_learning_rate_schedule_uses_the_rate_of_step_n():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5)
    gradients = list(np.random.default_rng(2).normal(size=(6, 4)))
    for scale_history in (True, False):
        optimizer = keras_bp.RecurrentBackprop(schedule, 0.8, scale_history)
        trajectory = replay(optimizer, np.zeros(4), gradients)
        expected, w, running_sum = [], np.zeros(4), np.zeros(4)
        for n, g in enumerate(gradients):
            eta = 0.1 * 0.5**n
            if scale_history:
                w = w - eta * (g + 0.8 * running_sum)
            else:
                w = w - eta * g - 0.8 * running_sum
            running_sum = g + 0.8 * running_sum
            expected.append(w)
        np.testing.assert_allclose(trajectory, expected, atol=1e-6)


class OneHotEmbedding(keras.layers.Layer):
    """An Embedding computed as one_hot(ids) @ table: same maths, dense gradient."""

    def __init__(self, table):
        super().__init__()
        self.table = self.add_weight(shape=table.shape, initializer="zeros")
        self.table.assign(table)

    def call(self, ids):
        return keras.ops.one_hot(ids, self.table.shape[0]) @ self.table


@pytest.mark.parametrize("scale_history", [True, False])
def test_sparse_embedding_gradients_equal_the_dense_result(scale_history):
    vocabulary, width = 10, 4
    table = np.random.default_rng(3).normal(size=(vocabulary, width))
    # Three batches of four sequences: rows 4 to 7 are looked up in the second
    # batch only, so the third must still move them by their running sums;
    # row 1 appears twice in a sequence, row 9 never.
    ids = np.array(
        [[1, 3, 1], [0, 2, 3], [0, 1, 2], [3, 3, 0]]
        + [[4, 5, 6], [7, 4, 5], [6, 7, 4], [5, 6, 7]]
        + [[1, 1, 2], [8, 0, 1], [2, 8, 3], [0, 0, 1]]
    )
    y = np.random.default_rng(4).normal(size=(len(ids), 3, width))

    def embedding():
        return keras.layers.Embedding(
            vocabulary, width, embeddings_initializer=keras.initializers.Constant(table)
        )

    def trained(layer, num_examples=12):
        model = keras.Sequential([keras.Input((3,), dtype="int32"), layer])
        optimizer = keras_bp.RecurrentBackprop(0.1, 0.7, scale_history)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(
            ids[:num_examples],
            y[:num_examples],
            batch_size=4,
            shuffle=False,
            verbose=0,
        )
        return model.get_weights()[0]

    layer = embedding()
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(layer(ids[:1]))
    assert isinstance(tape.gradient(loss, layer.trainable_weights)[0], tf.IndexedSlices)

    sparse = trained(layer)
    np.testing.assert_allclose(
        sparse, trained(OneHotEmbedding(table)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(sparse[9], table[9].astype("float32"))
    # Updating only the looked-up rows would leave rows 4 to 7 where the second
    # batch put them.
    after_two_batches = trained(embedding(), num_examples=8)
    assert not np.allclose(sparse[4:8], after_two_batches[4:8], atol=1e-3)


@pytest.mark.parametrize("scale_history", [True, False])
def test_saved_and_resumed_training_equals_uninterrupted(tmp_path, scale_history):
    x, y = regression_data(40)
    optimizer = keras_bp.RecurrentBackprop(0.03, 0.6, scale_history)
    uninterrupted = fit(small_model(), optimizer, x, y, epochs=2)

    model = small_model()
    fit(model, keras_bp.RecurrentBackprop(0.03, 0.6, scale_history), x, y)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.optimizer, keras_bp.RecurrentBackprop)
    for kept, original in zip(
        restored.optimizer.running_sums, model.optimizer.running_sums, strict=True
    ):
        assert np.any(original.numpy() != 0)
        np.testing.assert_array_equal(kept.numpy(), original.numpy())
    restored.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for w, reference in zip(restored.get_weights(), uninterrupted, strict=True):
        np.testing.assert_allclose(w, reference, rtol=1e-6, atol=1e-7)


def test_compiles_under_xla_and_matches_the_graph_result():
    x, y = regression_data(40)
    for scale_history in (True, False):
        graph = fit(
            small_model(), keras_bp.RecurrentBackprop(0.05, 0.5, scale_history), x, y
        )
        xla = fit(
            small_model(),
            keras_bp.RecurrentBackprop(0.05, 0.5, scale_history),
            x,
            y,
            jit_compile=True,
        )
        for w, reference in zip(xla, graph, strict=True):
            np.testing.assert_allclose(w, reference, rtol=1e-5, atol=1e-6)


def test_base_class_options_pass_through():
    optimizer = keras_bp.RecurrentBackprop(1.0, 0.5, clipvalue=0.25)
    trajectory = replay(optimizer, np.zeros(2), [np.array([3.0, -0.1])] * 2)
    np.testing.assert_allclose(trajectory, [[-0.25, 0.1], [-0.625, 0.25]])


# --- configuration ---------------------------------------------------------


@pytest.mark.parametrize("learning_rate", [0, -0.1, "0.1", True, None])
def test_rejects_a_bad_learning_rate(learning_rate):
    with pytest.raises(ValueError, match=re.escape(repr(learning_rate))):
        keras_bp.RecurrentBackprop(learning_rate=learning_rate)


@pytest.mark.parametrize("lam", [-0.1, 1, 1.0, 1.5, float("nan"), "0.9", True])
def test_rejects_a_forgetting_factor_outside_zero_to_one(lam):
    with pytest.raises(ValueError, match=r"0 <= forgetting_factor < 1.*never forgets"):
        keras_bp.RecurrentBackprop(forgetting_factor=lam)
    with pytest.raises(ValueError, match=re.escape(repr(lam))):
        keras_bp.RecurrentBackprop(forgetting_factor=lam)


@pytest.mark.parametrize("scale_history", ["yes", 1, None])
def test_rejects_a_scale_history_that_is_not_a_bool(scale_history):
    with pytest.raises(ValueError, match=re.escape(repr(scale_history))):
        keras_bp.RecurrentBackprop(scale_history=scale_history)


def test_accepts_boundary_values():
    keras_bp.RecurrentBackprop(learning_rate=np.float32(1e-3), forgetting_factor=0)
    keras_bp.RecurrentBackprop(learning_rate=lambda: 0.1, forgetting_factor=0.999)


@pytest.mark.parametrize(
    "learning_rate",
    [0.02, keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)],
    ids=["float", "schedule"],
)
def test_config_round_trip(learning_rate):
    optimizer = keras_bp.RecurrentBackprop(
        learning_rate, 0.3, scale_history=False, clipnorm=2.0, name="rb"
    )
    config = optimizer.get_config()
    assert config["forgetting_factor"] == 0.3
    assert config["scale_history"] is False
    assert config["clipnorm"] == 2.0
    # from_config replaces a serialized schedule in the dict it is given.
    rebuilt = keras_bp.RecurrentBackprop.from_config(dict(config))
    assert rebuilt.get_config() == config
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored, keras_bp.RecurrentBackprop)
    assert restored.get_config() == config
