"""Seed, build, compile, fit, evaluate and report: the part every pipeline shares."""

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from applications.common import report
from applications.common.data import Splits
from applications.common.optimizers import OPTIMIZERS, batch_size_for


def fit_and_report(
    args: argparse.Namespace,
    splits: Splits,
    build_model: Callable[[], keras.Model],
    *,
    loss: str | keras.losses.Loss,
    metrics: Sequence[str],
    about: Mapping[str, Any],
) -> dict[str, Any]:
    """Train a fresh model on `splits` as `args` say, and write the report.

    Seeds Keras (Python, NumPy, TensorFlow) with `args.seed`, builds the model,
    compiles it with the `--optimizer` choice, trains it with `model.fit` on
    `splits.train` (validating on `splits.validation` each epoch), evaluates
    it on `splits.test`, then writes to `args.output`: the learning-curve
    PNG, the model (`model.keras`, optimizer state included) and, last,
    `metrics.json`. Its `wall_time_seconds` spans seeding to saved model
    (not the data loading nor TensorFlow's start-up), `fit_seconds` the
    `model.fit` call alone.

    Args:
        args: parsed flags of `applications.common.cli.build_parser`.
        splits: the data.
        build_model: makes the (uncompiled) model; called after seeding.
        loss: the loss for `model.compile`.
        metrics: the metrics for `model.compile`; each is reported on the
            test set as `test_<name>`.
        about: task facts put into metrics.json as they are (data set,
            model kind, ...).

    Returns:
        What was written to metrics.json.
    """
    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    model = build_model()
    optimizer = OPTIMIZERS[args.optimizer].build(args.learning_rate)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    x_train, y_train = splits.train
    batch_size = batch_size_for(args.optimizer, args.batch_size, len(x_train))
    fit_start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        validation_data=splits.validation,
        epochs=args.epochs,
        batch_size=batch_size,
        verbose=args.verbose,
    )
    fit_seconds = time.perf_counter() - fit_start
    test = model.evaluate(
        *splits.test, batch_size=max(batch_size, 256), verbose=0, return_dict=True
    )
    title = f"{about.get('task', '')} {args.optimizer}".strip()
    report.plot_learning_curve(
        history.history, args.output / report.CURVE_FILE, title=title
    )
    model.save(args.output / report.MODEL_FILE)
    metrics_report = {
        **about,
        **{f"test_{name}": float(value) for name, value in test.items()},
        "epochs": args.epochs,
        "batch_size": batch_size,
        "seed": args.seed,
        "examples": splits.sizes(),
        "parameters": model.count_params(),
        "fit_seconds": round(fit_seconds, 3),
        "wall_time_seconds": round(time.perf_counter() - start, 3),
        "optimizer": {
            "name": args.optimizer,
            "class": type(optimizer).__name__,
            "config": optimizer.get_config(),
        },
        "history": history.history,
    }
    report.write_metrics(args.output / report.METRICS_FILE, metrics_report)
    return metrics_report
