import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bp
from keras_bp.optimizers.rprop import VARIANTS, rprop_update
from tests.optimizers.rprop_reference import NumpyRprop

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases"


def load_case(name):
    path = CASES / name
    if not path.exists():
        pytest.skip(f"reference cases not found at {path}")
    return json.loads(path.read_text())


def rprop_from(config, variant):
    return keras_bp.Rprop(
        learning_rate=config["lr"],
        etas=tuple(config["etas"]),
        step_sizes=tuple(config["step_sizes"]),
        variant=variant,
    )


def replay(optimizer, w0, gradient_at, steps):
    """Trajectory of float64 weights; gradient_at(t, w) gives (grad, loss)."""
    w = keras.Variable(np.array(w0, dtype=np.float64), dtype="float64")
    trajectory = []
    for t in range(steps):
        grad, loss = gradient_at(t, w.numpy())
        optimizer.apply([tf.constant(grad, tf.float64)], [w], loss=loss)
        trajectory.append(w.numpy().copy())
    return np.array(trajectory)


# --- reference cases -------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case_index", [0, 1])
def test_gradient_sequence_cases(variant, case_index):
    case = load_case("rprop_gradient_sequences.json")["cases"][case_index]
    trajectory = replay(
        rprop_from(case["config"], variant),
        case["w0"],
        lambda t, w: (case["grads"][t], case["losses"][t]),
        len(case["grads"]),
    )
    np.testing.assert_allclose(trajectory, case["expected"][variant], atol=1e-6)


def rosenbrock(w):
    x, y = w
    value = (1 - x) ** 2 + 100 * (y - x**2) ** 2
    grad = [-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)]
    return grad, value


@pytest.mark.parametrize("variant", VARIANTS)
def test_rosenbrock_trajectory_case(variant):
    case = load_case("rprop_rosenbrock.json")["case"]
    trajectory = replay(
        rprop_from(case["config"], variant),
        case["w0"],
        lambda t, w: rosenbrock(w),
        case["steps"],
    )
    np.testing.assert_allclose(trajectory, case["expected"][variant], atol=1e-6)
    _, final_loss = rosenbrock(trajectory[-1])
    np.testing.assert_allclose(final_loss, case["final_loss"][variant], atol=1e-6)


# --- an independent NumPy reference ----------------------------------------


def random_gradient_sequence(rng, steps, shape):
    """Gradients with exact sign flips and zeros, and a wandering loss."""
    grads = rng.normal(size=(steps, *shape))
    flips = rng.random(size=(steps, *shape)) < 0.3
    for t in range(1, steps):
        grads[t] = np.where(flips[t], -grads[t - 1], grads[t])
    grads[rng.random(size=grads.shape) < 0.1] = 0.0
    losses = np.abs(rng.normal(size=steps)) + 1.0
    return grads, losses


@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_numpy_reference_on_random_sequences(variant):
    rng = np.random.default_rng(7)
    grads, losses = random_gradient_sequence(rng, 40, (3, 4))
    w0 = rng.normal(size=(3, 4))
    config = dict(lr=0.05, etas=(0.4, 1.3), step_sizes=(1e-3, 0.3))
    reference = NumpyRprop(
        w0, config["lr"], config["etas"], config["step_sizes"], variant
    )
    expected = [reference.step(g, loss) for g, loss in zip(grads, losses)]
    trajectory = replay(
        rprop_from(config, variant), w0, lambda t, w: (grads[t], losses[t]), len(grads)
    )
    np.testing.assert_allclose(trajectory, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_update_rule_matches_numpy_reference_for_one_step(variant):
    rng = np.random.default_rng(3)
    grads, losses = random_gradient_sequence(rng, 2, (5,))
    reference = NumpyRprop(np.zeros(5), 0.1, (0.5, 1.2), (1e-6, 50.0), variant)
    reference.step(grads[0], losses[0])
    state = (reference.g_prev.copy(), reference.delta.copy(), reference.dw_prev.copy())
    w_before = reference.w.copy()
    reference.step(grads[1], losses[1])
    change, kept_gradient, step_size = rprop_update(
        grads[1],
        state[0],
        state[1],
        state[2] if variant.endswith("+") else None,
        np.array(losses[1] > losses[0]) if variant == "irprop+" else None,
        variant=variant,
    )
    np.testing.assert_allclose(np.asarray(change), reference.w - w_before, atol=1e-12)
    np.testing.assert_allclose(np.asarray(kept_gradient), reference.g_prev, atol=0)
    np.testing.assert_allclose(np.asarray(step_size), reference.delta, atol=1e-12)


# --- closed forms -----------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_step_size_grows_geometrically_to_max_on_constant_gradient(variant):
    d0, d_max, steps = 0.1, 1.0, 20
    optimizer = keras_bp.Rprop(d0, step_sizes=(1e-6, d_max), variant=variant)
    trajectory = replay(optimizer, [0.0], lambda t, w: ([2.5], 1.0 - t), steps)
    expected_steps = np.minimum(d0 * 1.2 ** np.arange(steps), d_max)
    np.testing.assert_allclose(trajectory[:, 0], -np.cumsum(expected_steps), atol=1e-12)
    np.testing.assert_allclose(optimizer.step_size_values[0].numpy(), [d_max])


def test_rprop_minus_halves_step_size_on_alternating_signs():
    optimizer = keras_bp.Rprop(0.8, step_sizes=(1e-3, 50.0), variant="rprop-")
    w = keras.Variable(np.zeros(1), dtype="float64")
    for t in range(12):
        optimizer.apply([tf.constant([(-1.0) ** t], tf.float64)], [w])
        expected = max(0.8 * 0.5**t, 1e-3)
        np.testing.assert_allclose(optimizer.step_size_values[0].numpy(), [expected])


def test_irprop_minus_zeroes_gradient_after_sign_change():
    optimizer = keras_bp.Rprop(0.5, variant="irprop-")
    trajectory = replay(optimizer, [0.0], lambda t, w: ([1.0, -1.0, -1.0][t], 0.0), 3)
    # Step 2 flips the sign: the weight stays and the kept gradient is 0, so
    # step 3 sees no sign product and moves by the halved step size.
    np.testing.assert_allclose(trajectory[:, 0], [-0.5, -0.5, -0.25])
    np.testing.assert_allclose(optimizer.previous_gradients[0].numpy(), [-1.0])


def test_rprop_plus_undoes_last_change_on_sign_flip():
    optimizer = keras_bp.Rprop(0.5, variant="rprop+")
    trajectory = replay(optimizer, [0.0], lambda t, w: ([1.0, 1.0, -1.0][t], 0.0), 3)
    np.testing.assert_allclose(trajectory[:, 0], [-0.5, -1.1, -0.5])


@pytest.mark.parametrize(
    "last_loss, expected_last",
    # 2.0 + 1e-9 rounds to 2.0 in float32: the loss is kept in float64.
    [(2.5, -0.5), (2.0 + 1e-9, -0.5), (1.5, -1.1)],
)
def test_irprop_plus_undoes_only_when_loss_rose(last_loss, expected_last):
    losses = [3.0, 2.0, last_loss]
    optimizer = keras_bp.Rprop(0.5, variant="irprop+")
    trajectory = replay(
        optimizer, [0.0], lambda t, w: ([1.0, 1.0, -1.0][t], losses[t]), 3
    )
    np.testing.assert_allclose(trajectory[-1, 0], expected_last)


# --- Keras integration ------------------------------------------------------


def dense_model(seed=0, model_class=keras_bp.Model):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    return model_class(inputs, keras.layers.Dense(3)(hidden))


def regression_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2]), x[:, 3] - x[:, 4]], 1)
    return x, y.astype("float32")


def train(variant, epochs, jit_compile=False, model=None, **optimizer_kwargs):
    x, y = regression_data()
    model = model or dense_model()
    if not model.compiled:
        model.compile(
            optimizer=keras_bp.Rprop(variant=variant, **optimizer_kwargs),
            loss="mse",
            jit_compile=jit_compile,
        )
    model.fit(x, y, batch_size=len(x), epochs=epochs, shuffle=False, verbose=0)
    return model


@pytest.mark.parametrize("variant", VARIANTS)
def test_fit_lowers_loss_and_compiles_with_xla(variant):
    x, y = regression_data()
    eager = train(variant, 15)
    xla = train(variant, 15, jit_compile=True)
    for a, b in zip(eager.get_weights(), xla.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    fresh = dense_model()
    fresh.compile(loss="mse")
    assert eager.evaluate(x, y, verbose=0) < 0.8 * fresh.evaluate(x, y, verbose=0)


def test_fit_matches_manual_numpy_replay():
    """One model.fit epoch = one Rprop step on the full-batch gradient."""
    x, y = regression_data()
    model = dense_model()
    reference_model = dense_model()
    model.compile(optimizer=keras_bp.Rprop(variant="irprop+"), loss="mse")
    references = [
        NumpyRprop(w, 0.01, (0.5, 1.2), (1e-6, 50.0), "irprop+")
        for w in reference_model.get_weights()
    ]
    loss_fn = keras.losses.MeanSquaredError()
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, reference_model(x))
        grads = tape.gradient(loss, reference_model.trainable_weights)
        new = [r.step(g.numpy(), float(loss)) for r, g in zip(references, grads)]
        reference_model.set_weights([w.astype("float32") for w in new])
        model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_irprop_plus_with_plain_keras_model_fails_clearly():
    model = dense_model(model_class=keras.Model)
    model.compile(optimizer=keras_bp.Rprop(variant="irprop+"), loss="mse")
    x, y = regression_data()
    with pytest.raises(ValueError, match="keras_bp.Model"):
        model.fit(x, y, epochs=1, verbose=0)


@pytest.mark.parametrize("variant", ["rprop-", "irprop-", "rprop+"])
def test_variants_without_loss_work_with_plain_keras_model(variant):
    plain = train(variant, 4, model=dense_model(model_class=keras.Model))
    ours = train(variant, 4)
    for a, b in zip(plain.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sparse_gradients_match_dense(variant):
    rng = np.random.default_rng(1)
    steps, vocab, dim = 6, 7, 3
    sparse_w = keras.Variable(rng.normal(size=(vocab, dim)), dtype="float64")
    dense_w = keras.Variable(sparse_w.numpy(), dtype="float64")
    sparse_opt = keras_bp.Rprop(0.1, variant=variant)
    dense_opt = keras_bp.Rprop(0.1, variant=variant)
    for t in range(steps):
        # Repeated indices, as an Embedding produces for a repeated token.
        indices = rng.integers(0, vocab, size=5)
        values = rng.normal(size=(5, dim))
        values[0] = -values[0] if t % 2 else values[0]
        sparse = tf.IndexedSlices(
            tf.constant(values), tf.constant(indices), tf.constant([vocab, dim])
        )
        loss = float(rng.random())
        sparse_opt.apply([sparse], [sparse_w], loss=loss)
        dense_opt.apply([tf.convert_to_tensor(sparse)], [dense_w], loss=loss)
        np.testing.assert_array_equal(sparse_w.numpy(), dense_w.numpy())


def test_embedding_model_trains_with_sparse_gradients():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(20, 4)(inputs)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(embedded))
    model = keras_bp.Model(inputs, outputs)
    model.compile(optimizer=keras_bp.Rprop(variant="irprop+"), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=(32, 5))
    y = (x % 3 == 0).mean(1, keepdims=True).astype("float32")
    history = model.fit(x, y, batch_size=32, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_load_resumes_training_exactly(variant, tmp_path):
    uninterrupted = train(variant, 10)
    interrupted = train(variant, 4)
    interrupted.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(restored.optimizer, keras_bp.Rprop)
    assert restored.optimizer.variant == variant
    np.testing.assert_array_equal(
        restored.optimizer.step_size_values[0].numpy(),
        interrupted.optimizer.step_size_values[0].numpy(),
    )
    train(variant, 6, model=restored)
    for a, b in zip(uninterrupted.get_weights(), restored.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_get_config_round_trips_every_argument():
    optimizer = keras_bp.Rprop(
        learning_rate=0.2,
        etas=(0.3, 1.7),
        step_sizes=(1e-4, 2.0),
        variant="IRprop+",
        name="my_rprop",
        clipnorm=1.0,
        use_ema=True,
        gradient_accumulation_steps=3,
    )
    config = optimizer.get_config()
    clone = keras_bp.Rprop.from_config(config)
    assert clone.get_config() == config
    assert config["variant"] == "irprop+"
    assert config["etas"] == (0.3, 1.7)
    assert config["step_sizes"] == (1e-4, 2.0)
    np.testing.assert_allclose(config["learning_rate"], 0.2)
    serialized = keras.optimizers.serialize(optimizer)
    assert isinstance(keras.optimizers.deserialize(serialized), keras_bp.Rprop)


def test_gradient_accumulation_steps_from_base_class():
    w = keras.Variable(np.zeros(2), dtype="float64")
    optimizer = keras_bp.Rprop(0.1, variant="rprop-", gradient_accumulation_steps=2)
    optimizer.apply([tf.constant([1.0, -1.0], tf.float64)], [w])
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0])
    optimizer.apply([tf.constant([1.0, 3.0], tf.float64)], [w])
    # The accumulated mean gradient is (1, 1): one step against its sign.
    np.testing.assert_allclose(w.numpy(), [-0.1, -0.1])


def test_learning_rate_is_clamped_into_step_sizes():
    w = keras.Variable(np.zeros(1), dtype="float64")
    optimizer = keras_bp.Rprop(5.0, step_sizes=(1e-6, 0.25))
    optimizer.apply([tf.constant([1.0], tf.float64)], [w])
    np.testing.assert_allclose(w.numpy(), [-0.25])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(learning_rate="fast"), "learning_rate"),
        (dict(learning_rate=float("inf")), "finite"),
        (dict(learning_rate=np.bool_(True)), "learning_rate"),
        (dict(etas=(0.5, float("inf"))), "eta_plus < inf"),
        (dict(step_sizes=(0.0, float("inf"))), "Delta_max < inf"),
        (dict(step_sizes=(0.0, 0.0)), "Delta_max > 0"),
        (
            dict(
                learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
            ),
            "initial step size",
        ),
        (dict(etas=(1.5, 1.2)), r"0 < eta_minus < 1 < eta_plus.*\(1.5, 1.2\)"),
        (dict(etas=(0.5, 0.9)), r"0 < eta_minus < 1 < eta_plus.*\(0.5, 0.9\)"),
        (dict(etas=(0.0, 1.2)), "eta_minus"),
        (dict(etas=0.5), "pair of numbers"),
        (dict(etas=(0.5, 1.2, 2.0)), "pair of numbers"),
        (dict(step_sizes=(1.0, 0.1)), r"Delta_min <= Delta_max.*\(1.0, 0.1\)"),
        (dict(step_sizes=(-1.0, 1.0)), "0 <= Delta_min"),
        (dict(variant="rprop"), "'rprop'"),
        (dict(variant=None), "variant"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_bp.Rprop(**kwargs)


@pytest.mark.parametrize("value", [np.float32(0.1), np.int64(1), np.float64(0.1)])
def test_numpy_scalars_are_numbers_too(value):
    w = keras.Variable(np.zeros(1), dtype="float64")
    keras_bp.Rprop(value, etas=np.array([0.5, 1.2])).apply(
        [tf.constant([1.0], tf.float64)], [w]
    )
    np.testing.assert_allclose(w.numpy(), [-float(value)], rtol=1e-7)


def test_variant_name_is_case_insensitive():
    assert keras_bp.Rprop(variant="iRprop-").variant == "irprop-"


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import keras_bp

    def run(strategy, variant):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            inputs = keras.Input((6,))
            hidden = keras.layers.Dense(8, activation="tanh")(inputs)
            model = keras_bp.Model(inputs, keras.layers.Dense(1)(hidden))
            model.compile(optimizer=keras_bp.Rprop(variant=variant), loss="mse")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 6)).astype("float32")
        y = np.sin(x[:, :1]) + x[:, 1:2]
        model.fit(x, y, batch_size=64, epochs=6, shuffle=False, verbose=0)
        return model.get_weights()

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    for variant in sys.argv[1:]:
        single = run(tf.distribute.get_strategy(), variant)
        # A fresh strategy each time, after other models have trained on one:
        # the loss's reduction must not clash with theirs.
        multi = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), variant)
        for a, b in zip(single, multi):
            np.testing.assert_allclose(a, b, atol=1e-6)
    print("SAME")
    """
)


def test_mirrored_strategy_gives_same_weights_as_one_device():
    result = subprocess.run(
        # irprop+ reduces the loss across replicas, after a model that does not.
        [sys.executable, "-c", MIRRORED_SCRIPT, "rprop+", "irprop+"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SAME" in result.stdout
