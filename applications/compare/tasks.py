"""The pipeline tasks of the race: each pipeline's real data and model, made compact.

Every task is small enough that a run of a few seconds means something, and
each fixes its model, its split and a target on the validation set, the
same for every optimizer:

- `digits`: scikit-learn's 8x8 digits with the digits pipeline's split and
  its dense network (64 tanh units, L2 3e-4). Metric: validation accuracy;
  target 0.95. Test metric: test accuracy.
- `timeseries`: statsmodels' yearly sunspot numbers (the smaller of the
  pipeline's series) with its default 22-year windows, one year ahead, and
  the pipeline's GRU forecaster (32 units, full BPTT). Metric: validation
  MAE in sunspots; target: the validation MAE of the pipeline's AR(9)
  baseline fitted on the training part (persistence, the last value as the
  forecast, is far behind: almost every run beats it within two epochs).
  Test metric: test MAE.
- `text`: the language of a chatterbot-corpus utterance (the text
  pipeline's data and split, 15 languages; the first 3,000 of its 8,825
  shuffled training utterances) read by its character GRU cut down to 32
  units, a 16-wide embedding and the first 32 characters.
  Metric: validation accuracy; target 0.6, four times the majority class
  (0.14): the full pipeline reaches 0.96 in minutes, a few seconds of
  training do not. Test metric: test accuracy.
- `music`: the soprano lines of the Bach chorales (the music pipeline's
  pieces and split, without the transposed copies) and its next-token
  model cut down to a GRU of 64 units, truncated BPTT(32; 32). Metric:
  validation NLL per token (Keras's masked cross-entropy, which keeps the
  small mass the network puts on the padding and start tokens); target: the
  validation NLL of the pipeline's interpolated bigram model fitted on the
  training pieces (its weights chosen on the validation pieces, so the
  target is, if anything, hard). Test metric: test NLL per token.

Every optimizer keeps its own default learning rate on every task.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from applications.compare.budget import Target

TASKS = ("digits", "timeseries", "text", "music")
# Larger than every validation and test set here: each is one batch.
VALIDATION_BATCH = 4096


@dataclass(frozen=True)
class Task:
    """One task of the race.

    Attributes:
        name: a key of `LOADERS`.
        about: the compact configuration in one line, for the report.
        num_train: training examples (the full batch).
        build_model: makes the uncompiled model; called after seeding.
        loss: for `model.compile`.
        metrics: for `model.compile`.
        batches: `(batch_size, seed) -> (fit keyword arguments, evaluate
            keyword arguments of the test set)`.
        validation_key: the history key of the validation metric.
        test_key: the `evaluate` key of the test metric.
        scale: both metrics are multiplied by it (into the data's units).
        metric_label, test_label: their names in the report.
        target: the validation level that counts as solved.
        facts: numbers about the data for the JSON report.
    """

    name: str
    about: str
    num_train: int
    build_model: Callable[[], Any]
    loss: str
    metrics: tuple[str, ...]
    batches: Callable[[int, int], tuple[dict, dict]]
    validation_key: str
    test_key: str
    metric_label: str
    test_label: str
    target: Target
    scale: float = 1.0
    facts: Mapping[str, Any] = field(default_factory=dict)


def array_batches(splits) -> Callable[[int, int], tuple[dict, dict]]:
    """`Task.batches` for NumPy `Splits`: `fit` shuffles, seeded by Keras."""

    def batches(batch_size: int, seed: int) -> tuple[dict, dict]:
        del seed  # fit's shuffling follows keras.utils.set_random_seed
        fit = {
            "x": splits.train[0],
            "y": splits.train[1],
            "batch_size": batch_size,
            "validation_data": splits.validation,
            # One validation batch: the metric must not depend on the
            # optimizer's batch size (a masked loss averaged per batch would).
            "validation_batch_size": VALIDATION_BATCH,
        }
        x_test, y_test = splits.test
        test = {"x": x_test, "y": y_test, "batch_size": VALIDATION_BATCH}
        return fit, test

    return batches


def load_digits() -> Task:
    """The digits task (see the module docstring)."""
    from applications.digits import data, model

    splits = data.load_digits()
    shape = splits.train[0].shape[1:]
    return Task(
        name="digits",
        about="sklearn 8x8 digits, dense 64 tanh + L2 3e-4 (the pipeline's)",
        num_train=len(splits.train[0]),
        build_model=lambda: model.build("dense", shape),
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        batches=array_batches(splits),
        validation_key="val_accuracy",
        test_key="accuracy",
        metric_label="validation accuracy",
        test_label="test accuracy",
        target=Target(0.95, True, "validation accuracy 0.95"),
        facts={"examples": splits.sizes()},
    )


AR_LAGS = 9


def load_timeseries() -> Task:
    """The sunspot task (see the module docstring)."""
    from applications.timeseries import baselines, data, model

    series = data.load("sunspots")
    windows = data.make_windows(series.values, series.window, horizon=1)
    splits = windows.splits(series.values)
    origins = windows.origins["validation"]
    actual = series.values[origins + 1]
    # Fitted on the training part only, as the pipeline fits its baselines.
    ar = baselines.autoregression(AR_LAGS)
    forecast = ar.forecaster(series.values[: windows.boundaries[0]], None)
    ar_mae = baselines.errors(actual, forecast(series.values, origins, 1), 1.0)["mae"]
    persistence = baselines.errors(
        actual, baselines.persistence(series.values, origins, 1), 1.0
    )["mae"]
    return Task(
        name="timeseries",
        about=f"yearly sunspots, {series.window}-year windows, 1 year ahead, GRU 32",
        num_train=len(splits.train[0]),
        build_model=lambda: model.build("gru", 32, 1),
        loss="mse",
        metrics=("mae",),
        batches=array_batches(splits),
        validation_key="val_mae",
        test_key="mae",
        metric_label="validation MAE (sunspots)",
        test_label="test MAE (sunspots)",
        target=Target(ar_mae, False, f"AR({AR_LAGS})'s validation MAE {ar_mae:.2f}"),
        scale=float(windows.target_scale[0]),
        facts={
            "examples": splits.sizes(),
            "ar_validation_mae": ar_mae,
            "persistence_validation_mae": persistence,
        },
    )


TEXT_UNITS = 32
TEXT_EMBEDDING = 16
TEXT_MAX_LENGTH = 32
TEXT_TRAIN_SUBSET = 3_000
# Four times the majority class (0.14); the full pipeline reaches 0.96.
TEXT_TARGET = 0.6
TEXT_MAX_TOKENS = 2_000


def load_text() -> Task:
    """The language task (see the module docstring)."""
    from applications.common.data import Splits
    from applications.text import data, model

    full, class_names = data.load("language")
    # The split is shuffled already: its head keeps every language's share.
    texts, labels = full.train
    splits = Splits(
        train=(texts[:TEXT_TRAIN_SUBSET], labels[:TEXT_TRAIN_SUBSET]),
        validation=full.validation,
        test=full.test,
    )

    def batches(batch_size: int, seed: int) -> tuple[dict, dict]:
        prepared = model.prepare(
            "gru",
            splits,
            level="character",
            max_tokens=TEXT_MAX_TOKENS,
            max_length=TEXT_MAX_LENGTH,
            batch_size=batch_size,
            seed=seed,
        )
        built.append(prepared)
        fit = {
            "x": prepared.train,
            "validation_data": prepared.validation,
            "shuffle": False,
        }
        return fit, {"x": prepared.test}

    # The vectorizer is fitted with the batches; the model built after them
    # takes its vocabulary size.
    built: list = []
    return Task(
        name="text",
        about=f"chatterbot language (15 classes, {TEXT_TRAIN_SUBSET} training "
        f"texts), char GRU {TEXT_UNITS}, "
        f"embedding {TEXT_EMBEDDING}, first {TEXT_MAX_LENGTH} characters",
        num_train=len(splits.train[0]),
        build_model=lambda: built[-1].build(
            len(class_names), units=TEXT_UNITS, embedding_dim=TEXT_EMBEDDING
        ),
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        batches=batches,
        validation_key="val_accuracy",
        test_key="accuracy",
        metric_label="validation accuracy",
        test_label="test accuracy",
        target=Target(TEXT_TARGET, True, f"validation accuracy {TEXT_TARGET}"),
        facts={"examples": splits.sizes(), "classes": len(class_names)},
    )


MUSIC_UNITS = 64
MUSIC_EMBEDDING = 32
MUSIC_WINDOW = 32


def load_music() -> Task:
    """The chorale task (see the module docstring)."""
    from applications.common.data import Splits
    from applications.music import data, model, ngrams

    splits = data.split_pieces(data.load_chorales(data.DEFAULT_CACHE_DIR.expanduser()))
    vocabulary = data.Vocabulary.fit(splits.train)
    arrays = Splits(
        train=data.packed_token_arrays(splits.train, vocabulary),
        validation=data.token_arrays(splits.validation, vocabulary),
        test=data.token_arrays(splits.test, vocabulary),
    )
    train = [vocabulary.encode(p.events) for p in splits.train]
    validation = [vocabulary.encode(p.events) for p in splits.validation]
    bigram = ngrams.InterpolatedNGram(2, len(vocabulary) - 2)
    bigram.fit(train, validation)
    bigram_nll = -float(np.mean(bigram.log_likelihoods(validation)))
    return Task(
        name="music",
        about=f"Bach chorale soprano lines (no transpositions), GRU {MUSIC_UNITS}, "
        f"BPTT({MUSIC_WINDOW}; {MUSIC_WINDOW})",
        num_train=len(arrays.train[0]),
        build_model=lambda: model.build(
            "gru",
            len(vocabulary),
            units=MUSIC_UNITS,
            embedding_size=MUSIC_EMBEDDING,
            k1=MUSIC_WINDOW,
            k2=MUSIC_WINDOW,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=(),
        batches=array_batches(arrays),
        validation_key="val_loss",
        test_key="loss",
        metric_label="validation NLL (nats/token)",
        test_label="test NLL (nats/token)",
        target=Target(
            bigram_nll, False, f"the bigram's validation NLL {bigram_nll:.3f}"
        ),
        facts={
            "rows": {part: len(a[0]) for part, a in vars(arrays).items()},
            "pieces": {
                "train": len(splits.train),
                "validation": len(splits.validation),
                "test": len(splits.test),
            },
            "vocabulary_size": len(vocabulary),
            "bigram_validation_nll": bigram_nll,
        },
    )


LOADERS: dict[str, Callable[[], Task]] = {
    "digits": load_digits,
    "timeseries": load_timeseries,
    "text": load_text,
    "music": load_music,
}
