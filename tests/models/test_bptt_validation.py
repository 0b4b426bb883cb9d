"""BPTTModel rejects bad arguments and bad data with a clear ValueError."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bp
from keras_bp import BPTTModel


def make(**kwargs):
    arguments = {"cell": keras.layers.SimpleRNNCell(2), "head": keras.layers.Dense(1)}
    arguments.update(kwargs)
    return BPTTModel(**arguments)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k1": 2}, "both `k1` and `k2`"),
        ({"k2": 2}, "both `k1` and `k2`"),
        ({"k1": 0, "k2": 2}, "`k1` must be a positive integer, got 0"),
        ({"k1": 2, "k2": -1}, "`k2` must be a positive integer, got -1"),
        ({"k1": 1.5, "k2": 2}, "`k1` must be a positive integer, got 1.5"),
        ({"k1": True, "k2": 2}, "`k1` must be a positive integer, got True"),
        ({"k1": 3, "k2": 2}, r"`k2` .* must be >= `k1`.*k1=3, k2=2"),
        ({"cell": keras.layers.Dense(2)}, "`cell` must be a Keras RNN cell"),
        ({"cell": "lstm"}, "`cell` must be a Keras RNN cell"),
        (
            {"cell": keras.layers.LSTM(2)},
            "not a whole recurrent layer",
        ),
        ({"head": "dense"}, "`head` must be a keras.layers.Layer"),
        ({"embedding": np.ones(3)}, "`embedding` must be a keras.layers.Layer"),
        ({"return_sequences": "yes"}, "`return_sequences` must be True or False"),
        ({"gradient": "numeric"}, "`gradient` must be one of autodiff, explicit"),
        (
            {"cell": keras.layers.LSTMCell(2), "gradient": "explicit"},
            "SimpleRNNCell only.*LSTMCell",
        ),
        (
            {
                "cell": keras.layers.SimpleRNNCell(2, activation="elu"),
                "gradient": "explicit",
            },
            "knows the activations.*'elu'",
        ),
        (
            {
                "cell": keras.layers.SimpleRNNCell(2, dropout=0.1),
                "gradient": "explicit",
            },
            "does not support dropout",
        ),
    ],
)
def test_bad_arguments_raise_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_numpy_integers_are_accepted_for_k1_and_k2():
    model = make(k1=np.int64(2), k2=np.int32(3))
    assert (model.k1, model.k2) == (2, 3)


@pytest.mark.parametrize("truncation", [{}, {"k1": 2, "k2": 2}])
def test_inputs_of_rank_other_than_3_raise(truncation):
    model = make(**truncation)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"\(batch, time, features\), got shape"):
        model.fit(np.ones((4, 5)), np.ones((4, 5, 1)), verbose=0)


@pytest.mark.parametrize("truncation", [{}, {"k1": 2, "k2": 2}])
@pytest.mark.parametrize("gradient", ["autodiff", "explicit"])
def test_targets_with_another_time_length_raise(truncation, gradient):
    model = make(gradient=gradient, **truncation)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="`y` has 4 time steps but `x` has 5"):
        model.fit(np.ones((4, 5, 3)), np.ones((4, 4, 1)), verbose=0)


def test_embedding_must_yield_sequences():
    model = make(embedding=keras.layers.Dense(3))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"got shape \(None, 5, 2, 3\)"):
        model.fit(np.ones((4, 5, 2, 2)), np.ones((4, 5, 1)), verbose=0)


@pytest.mark.parametrize("truncation", [{}, {"k1": 2, "k2": 2}])
def test_integer_inputs_without_an_embedding_raise(truncation):
    model = make(**truncation)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="expects float sequences, got int64"):
        model.fit(np.ones((4, 5, 3), "int64"), np.ones((4, 5, 1)), verbose=0)


@pytest.mark.parametrize("truncation", [{}, {"k1": 2, "k2": 2}])
def test_another_feature_count_than_the_built_one_raises(truncation):
    model = make(**truncation)
    model.compile("sgd", "mse")
    x, y = np.ones((4, 5, 3), "float32"), np.ones((4, 5, 1), "float32")
    model.fit(x, y, verbose=0)
    message = r"built for 3 features a step, got sequences of shape \(4, 5, 2\)"
    for run in (model.fit, model.evaluate):
        with pytest.raises(ValueError, match=message):
            run(x[..., :2], y, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.predict(x[..., :2], verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((x[..., :2], y)).batch(2)
    with pytest.raises(ValueError, match=r"built for 3 features.*\(None, 5, 2\)"):
        model.fit(dataset, verbose=0)


def test_token_ids_for_an_embedding_must_be_batch_by_time():
    model = make(embedding=keras.layers.Embedding(20, 5))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"\(batch, time\) token ids.*\(4, 5, 1\)"):
        model.fit(np.ones((4, 5, 1), "int32"), np.ones((4, 5, 1)), verbose=0)


def test_sequences_without_time_steps_raise():
    model = make()
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"no time steps: shape \(4, 0, 3\)"):
        model.fit(np.ones((4, 0, 3)), np.ones((4, 0, 1)), verbose=0)


def test_per_step_targets_for_the_last_step_only_raise():
    model = make(return_sequences=np.bool_(False))
    assert model.return_sequences is False
    model.compile("sgd", "mse")
    message = r"y must be \(batch, \.\.\.\).*\(None, 5, 1\)"
    with pytest.raises(ValueError, match=message):
        model.fit(np.ones((4, 5, 3)), np.ones((4, 5, 1)), verbose=0)


def test_irprop_plus_under_mixed_precision_raises_at_the_first_step():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    x, y = np.ones((4, 5, 3)), np.ones((4, 5, 1))
    try:
        model = make(head=keras.layers.Dense(1, dtype="float32"))
        model.compile(keras_bp.Rprop(variant="irprop+"), "mse")
        with pytest.raises(ValueError, match="LossScaleOptimizer.*variant='irprop-'"):
            model.fit(x, y, verbose=0)
        model = make(head=keras.layers.Dense(1, dtype="float32"))
        model.compile(keras_bp.Rprop(variant="irprop-"), "mse")
        assert np.isfinite(model.fit(x, y, verbose=0).history["loss"][0])
    finally:
        keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.ones((4, 5, 3)), np.ones((3, 5, 1)), "x and y must hold the same number"),
        (None, np.ones((4, 5, 1)), "`x` must be one batch.*NoneType"),
        (np.ones((4, 5, 2)), np.ones((4, 5, 1)), "BPTTModel was built for 3 features"),
    ],
    ids=["batch-sizes", "none", "features"],
)
def test_gradient_norms_callback_names_its_bad_batch(x, y, message):
    model = make()
    model.compile("sgd", "mse")
    recorder = keras_bp.GradientNormsThroughTime(x, y)
    x_fit, y_fit = np.ones((4, 5, 3)), np.ones((4, 5, 1))
    expected = f"GradientNormsThroughTime's batch: {message}"
    with pytest.raises(ValueError, match=expected):
        model.fit(x_fit, y_fit, verbose=0, callbacks=[recorder])
