import keras
import numpy as np
import pytest

import keras_bp


def data(n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (x[:, :1] * x[:, 1:2] + np.sin(x[:, 2:3])).astype("float32")
    return x, y


def functional(model_class, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(7, activation="tanh")(inputs)
    return model_class(inputs, keras.layers.Dense(1)(hidden))


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: keras.optimizers.Adam(0.01), lambda: keras.optimizers.SGD(0.1, 0.9)],
)
def test_is_a_drop_in_for_keras_model(make_optimizer):
    x, y = data()
    histories, weights = [], []
    for model_class in (keras.Model, keras_bp.Model):
        model = functional(model_class)
        model.compile(optimizer=make_optimizer(), loss="mse", metrics=["mae"])
        history = model.fit(
            x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0
        )
        histories.append(history.history)
        weights.append(model.get_weights())
    assert histories[0].keys() == histories[1].keys()
    for key in histories[0]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-6)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_hands_the_training_loss_to_the_optimizer():
    x, y = data()
    model = functional(keras_bp.Model)
    model.compile(optimizer=keras_bp.Rprop(variant="irprop+"), loss="mse")
    for _ in range(3):
        expected = np.mean((model.predict(x, verbose=0) - y) ** 2)
        model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
        np.testing.assert_allclose(model.optimizer._loss.numpy(), expected, rtol=1e-5)


def test_subclassed_model_trains_with_irprop_plus_after_a_functional_one():
    # Keras rewrites the bases of a Model subclass used functionally; that
    # must not leak into later subclasses.
    functional(keras_bp.Model)

    class TwoLayer(keras_bp.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(7, activation="tanh")
            self.out = keras.layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    x, y = data()
    model = TwoLayer()
    model.compile(optimizer=keras_bp.Rprop(variant="irprop+"), loss="mse")
    history = model.fit(x, y, batch_size=len(x), epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_saved_functional_model_loads_as_keras_bp_model(tmp_path):
    x, y = data()
    model = functional(keras_bp.Model)
    model.compile(optimizer=keras_bp.Rprop(variant="irprop+"), loss="mse")
    model.fit(x, y, batch_size=len(x), epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(restored, keras_bp.Model)
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    restored.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
