"""Seed, build, compile, fit, evaluate and report: the part every pipeline shares."""

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf

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
    x_train, y_train = splits.train
    batch_size = batch_size_for(args.optimizer, args.batch_size, len(x_train))
    return _train_and_report(
        args,
        build_model,
        fit_inputs={
            "x": x_train,
            "y": y_train,
            "validation_data": splits.validation,
            "batch_size": batch_size,
        },
        test_inputs={
            "x": splits.test[0],
            "y": splits.test[1],
            "batch_size": max(batch_size, 256),
        },
        batch_size=batch_size,
        examples=splits.sizes(),
        loss=loss,
        metrics=metrics,
        about=about,
    )


def fit_and_report_datasets(
    args: argparse.Namespace,
    train: tf.data.Dataset,
    validation: tf.data.Dataset,
    test: tf.data.Dataset,
    build_model: Callable[[], keras.Model],
    *,
    batch_size: int,
    examples: Mapping[str, int],
    loss: str | keras.losses.Loss,
    metrics: Sequence[str],
    about: Mapping[str, Any],
    extra_report: Callable[[keras.Model], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """`fit_and_report` for data already batched, e.g. grouped by length.

    As `fit_and_report`, but trains on the `(inputs, targets)` batches of
    `train` (shuffled by the caller as it sees fit) and evaluates on
    `validation` and `test` batches.

    Args:
        batch_size: the batch size the datasets were made with, for the report.
        examples: the number of examples of each split, for the report.
        extra_report: called with the trained model after the test-set
            evaluation; what it returns goes into metrics.json too (e.g. a
            per-class table).
    """
    return _train_and_report(
        args,
        build_model,
        # The caller shuffles (or not) as it batches.
        fit_inputs={"x": train, "validation_data": validation, "shuffle": False},
        test_inputs={"x": test},
        batch_size=batch_size,
        examples=examples,
        loss=loss,
        metrics=metrics,
        about=about,
        extra_report=extra_report,
    )


def _train_and_report(
    args,
    build_model,
    *,
    fit_inputs,
    test_inputs,
    batch_size,
    examples,
    loss,
    metrics,
    about,
    extra_report=None,
):
    """Seed, build, compile, fit, evaluate, save and report (see above)."""
    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    model = build_model()
    optimizer = OPTIMIZERS[args.optimizer].build(args.learning_rate)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    fit_start = time.perf_counter()
    history = model.fit(**fit_inputs, epochs=args.epochs, verbose=args.verbose)
    fit_seconds = time.perf_counter() - fit_start
    test = model.evaluate(**test_inputs, verbose=0, return_dict=True)
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
        "examples": dict(examples),
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
    if extra_report is not None:
        metrics_report.update(extra_report(model))
    report.write_metrics(args.output / report.METRICS_FILE, metrics_report)
    return metrics_report
