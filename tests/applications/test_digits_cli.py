"""The digits command line: a short real run, and each kind of bad input."""

import json
import subprocess
import sys

import keras
import matplotlib.image
import numpy as np
import pytest

import keras_bp
from applications.digits import data, model
from applications.digits.__main__ import MODELS, main


def run(argv, capsys):
    """`main(argv)`'s exit status and stderr lines; argparse exits count too."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err.splitlines()


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("digits")
    argv = ["--epochs", "3", "--optimizer", "irprop+", "--output", str(output)]
    assert main([*argv, "--verbose", "0", "--seed", "1"]) == 0
    return output


def test_short_run_writes_well_formed_metrics(short_run):
    metrics = json.loads((short_run / "metrics.json").read_text())
    assert metrics["dataset"] == "digits" and metrics["model"] == "dense"
    assert metrics["epochs"] == 3 and metrics["seed"] == 1
    assert metrics["batch_size"] == metrics["examples"]["train"] == 1258
    assert metrics["optimizer"]["name"] == "irprop+"
    assert metrics["optimizer"]["class"] == "Rprop"
    assert metrics["optimizer"]["config"]["variant"] == "irprop+"
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(metrics["history"][key]) == 3
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["test_loss"] > 0
    assert 0 < metrics["fit_seconds"] <= metrics["wall_time_seconds"]


def test_short_run_saves_a_model_that_loads_with_its_optimizer_state(short_run):
    metrics = json.loads((short_run / "metrics.json").read_text())
    loaded = keras.models.load_model(short_run / "model.keras")
    assert isinstance(loaded, keras_bp.Model)
    assert isinstance(loaded.optimizer, keras_bp.Rprop)
    assert loaded.optimizer.variant == "irprop+"
    # One full-batch step an epoch.
    assert int(loaded.optimizer.iterations) == 3
    step_sizes = np.concatenate(
        [np.ravel(v) for v in loaded.optimizer.step_size_values]
    )
    assert not np.allclose(step_sizes, 0.01)  # adapted, not re-initialised
    x_test, y_test = data.load_digits().test
    predicted = loaded.predict(x_test, verbose=0).argmax(axis=1)
    assert np.mean(predicted == y_test) == pytest.approx(
        metrics["test_accuracy"], abs=1e-6
    )


def test_short_run_plots_loss_and_accuracy(short_run):
    height, width, _ = matplotlib.image.imread(short_run / "learning_curve.png").shape
    assert (height, width) == (400, 1000)


def test_cnn_with_adam_trains_on_mini_batches(tmp_path):
    argv = ["--model", "cnn", "--optimizer", "adam", "--epochs", "1"]
    assert main([*argv, "--batch-size", "64", "--output", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["batch_size"] == 64 and metrics["optimizer"]["class"] == "Adam"
    assert metrics["model"] == "cnn"


def test_model_choices_are_the_model_builders():
    assert MODELS == tuple(model.BUILDERS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--optimizer", "newton"], "invalid choice: 'newton'"),
        (["--epochs", "0"], "--epochs: expected a positive integer, got 0"),
        (["--epochs", "-2"], "--epochs: expected a positive integer, got -2"),
        (["--epochs", "ten"], "--epochs: expected a positive integer, got ten"),
        (["--batch-size", "0"], "--batch-size: expected a positive integer"),
        (["--learning-rate", "-1"], "--learning-rate: expected a positive number"),
        (["--data-dir", "/no/such/dir"], "--data-dir: no such directory"),
        (["--dataset", "cifar"], "invalid choice: 'cifar'"),
        (["--seed", "-1"], "--seed: expected an integer from 0 to 4294967295"),
        (["--seed", "4294967296"], "--seed: expected an integer from 0"),
    ],
)
def test_bad_flag_exits_2_with_one_line(argv, message, capsys, tmp_path):
    status, err = run([*argv, "--output", str(tmp_path)], capsys)
    assert status == 2
    assert len(err) == 1 and message in err[0], err


def test_unwritable_output_exits_2_with_one_line(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # A path under a regular file cannot be created, even by root.
    status, err = run(["--output", str(blocker / "out")], capsys)
    assert status == 2
    assert len(err) == 1 and "--output: cannot write to" in err[0], err


def test_missing_mnist_exits_1_with_how_to_prepare_it(capsys, tmp_path):
    argv = ["--dataset", "mnist", "--data-dir", str(tmp_path)]
    status, err = run([*argv, "--output", str(tmp_path / "out")], capsys)
    assert status == 1
    assert len(err) == 1 and f"tfds build mnist --data_dir {tmp_path}" in err[0]


def test_command_line_errors_carry_no_traceback(tmp_path):
    # A fresh interpreter: bad flags are refused before TensorFlow starts,
    # so not even its start-up log reaches stderr.
    result = subprocess.run(
        [sys.executable, "-m", "applications.digits", "--epochs", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "python -m applications.digits: error: argument --epochs: "
        "expected a positive integer, got 0"
    ]


def test_help_lists_every_flag_and_optimizer():
    result = subprocess.run(
        [sys.executable, "-m", "applications.digits", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for flag in (
        "--optimizer", "--epochs", "--batch-size", "--dataset", "--data-dir",
        "--output", "--seed", "--model", "--learning-rate",
    ):  # fmt: skip
        assert flag in result.stdout
    for name in ("irprop-", "irprop+", "rprop-", "rprop+", "sgd", "adam"):
        assert name in result.stdout
