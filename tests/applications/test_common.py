"""The shared plumbing: optimizer choices, batch sizes, the report files."""

import json

import keras
import numpy as np
import pytest

import keras_bp
from applications.common import report
from applications.common.optimizers import (
    DEFAULT_OPTIMIZER,
    MINI_BATCH_SIZE,
    OPTIMIZERS,
    batch_size_for,
)
from keras_bp.optimizers.rprop import VARIANTS


def test_every_rprop_variant_is_a_choice_building_that_variant():
    for variant in VARIANTS:
        optimizer = OPTIMIZERS[variant].build()
        assert isinstance(optimizer, keras_bp.Rprop)
        assert optimizer.variant == variant


def test_default_choice_is_keras_bp_rprop_defaults():
    assert (
        OPTIMIZERS[DEFAULT_OPTIMIZER].build().get_config()
        == keras_bp.Rprop().get_config()
    )


@pytest.mark.parametrize(
    ("name", "cls"), [("sgd", keras.optimizers.SGD), ("adam", keras.optimizers.Adam)]
)
def test_keras_baselines_are_choices_and_take_the_learning_rate(name, cls):
    optimizer = OPTIMIZERS[name].build(learning_rate=0.05)
    assert type(optimizer) is cls
    assert optimizer.get_config()["learning_rate"] == pytest.approx(0.05)


def test_rprop_trains_on_the_full_batch_others_on_mini_batches():
    assert batch_size_for("rprop+", None, 1234) == 1234
    assert batch_size_for("adam", None, 1234) == MINI_BATCH_SIZE
    assert batch_size_for("irprop-", 100, 1234) == 100


def test_metrics_json_writes_numpy_scalars_and_refuses_other_objects(tmp_path):
    path = tmp_path / "m.json"
    report.write_metrics(path, {"a": np.float32(0.5), "b": [np.int64(3)]})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [3]}
    with pytest.raises(TypeError, match="object"):
        report.write_metrics(path, {"a": object()})


def test_learning_curve_has_a_panel_for_each_metric(tmp_path):
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}
    path = tmp_path / "curve.png"
    report.plot_learning_curve(history, path, title="t")
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(path).shape
    # Two panels of 5x4 inches at 100 dpi.
    assert (height, width) == (400, 1000)


def test_run_app_turns_app_errors_and_ctrl_c_into_one_line(capsys):
    from applications.common import cli

    def fail():
        raise cli.AppError("no data here")

    def interrupt():
        raise KeyboardInterrupt

    assert cli.run_app("prog", fail) == 1
    assert capsys.readouterr().err == "prog: error: no data here\n"
    assert cli.run_app("prog", interrupt) == 130
    assert capsys.readouterr().err == "prog: interrupted\n"
    assert cli.run_app("prog", lambda: None) == 0
