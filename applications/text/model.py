"""Text classifiers from keras_bp parts, and the batches they train on.

- `recurrent`: `keras.layers.TextVectorization` ids -> `Embedding(mask_zero
  =True)` -> `keras_bp.BPTTModel` with a GRU or LSTM cell, full or
  truncated BPTT, and a softmax head on the last (unpadded) step.
- `bow`: TextVectorization's multi-hot bag of n-grams -> softmax, a
  `keras_bp.Model` trained by plain static backpropagation.

The vectorizer is kept out of the network: the recurrent model's batches are
grouped by length before padding, which needs the ids first. A run saves
the vectorizer's settings and vocabulary beside the model (`VECTORIZER_FILE`)
so that `predict` turns raw text into the same ids.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import keras_bp
from applications.common.cli import AppError
from applications.common.data import Splits
from applications.common.report import MODEL_FILE

VECTORIZER_FILE = "vectorizer.json"
PROG_HINT = "python -m applications.text --output DIR"
CELLS = {"gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell}


def vectorizer_settings(
    kind: str, level: str, max_tokens: int, max_length: int
) -> dict[str, Any]:
    """The TextVectorization arguments for a model kind and token level.

    Args:
        kind: `"bow"` (multi-hot 1- to 3-grams; Keras's unnormalised tf_idf
            trains worse) or a recurrent kind (integer ids).
        level: `"character"` or `"word"` tokens.
        max_tokens: the vocabulary size, padding and out-of-vocabulary
            tokens included.
        max_length: texts are cut to this many tokens (recurrent only).
    """
    settings: dict[str, Any] = {
        "max_tokens": max_tokens,
        # Punctuation helps tell languages apart, so characters keep it.
        "standardize": "lower"
        if level == "character"
        else "lower_and_strip_punctuation",
        "split": "character" if level == "character" else "whitespace",
    }
    if kind == "bow":
        settings.update(output_mode="multi_hot", ngrams=3)
    else:
        settings.update(output_mode="int", ragged=True)
    return {"settings": settings, "max_length": None if kind == "bow" else max_length}


def make_vectorizer(
    spec: Mapping[str, Any],
    *,
    texts: np.ndarray | None = None,
    vocabulary: Sequence[str] | None = None,
) -> keras.layers.TextVectorization:
    """A TextVectorization from `vectorizer_settings`, adapted or given a vocabulary."""
    layer = keras.layers.TextVectorization(**spec["settings"])
    if vocabulary is not None:
        layer.set_vocabulary(list(vocabulary))
    else:
        layer.adapt(tf.constant(list(texts)), batch_size=1024)
    return layer


def save_vectorizer(
    path: Path,
    spec: Mapping[str, Any],
    layer: keras.layers.TextVectorization,
    class_names: Sequence[str],
) -> None:
    """Write the vectorizer's settings, vocabulary and the class names."""
    vocabulary = layer.get_vocabulary(include_special_tokens=False)
    payload = {**spec, "vocabulary": vocabulary, "class_names": list(class_names)}
    path.write_text(json.dumps(payload, ensure_ascii=False) + "\n")


def load_vectorizer(path: Path) -> tuple[keras.layers.TextVectorization, dict]:
    """The vectorizer `save_vectorizer` wrote, and what was saved with it."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    return make_vectorizer(spec, vocabulary=spec["vocabulary"]), spec


def encode(
    layer: keras.layers.TextVectorization,
    spec: Mapping[str, Any],
    texts: Sequence[str],
):
    """Texts as the network's input: multi-hot rows or ragged id sequences."""
    encoded = layer(tf.constant(list(texts)))
    if spec["max_length"] is not None:
        encoded = encoded[:, : spec["max_length"]]
    return encoded


def length_batches(
    ids: tf.RaggedTensor, labels: np.ndarray, batch_size: int, seed: int | None
) -> tf.data.Dataset:
    """Batches of texts of about the same length, each padded to its longest.

    The texts are sorted by length (ties in a seeded random order) and cut
    into batches; `seed=None` keeps that order (for evaluation), else the
    order of the batches is shuffled each epoch. Random batches would each
    be padded to the longest of a few dozen texts: five times the mean on
    the chatterbot corpus.
    """
    lengths = ids.row_lengths().numpy()
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.permutation(len(lengths)), lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    padded = [(tf.gather(ids, batch).to_tensor(), labels[batch]) for batch in batches]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(padded),
        output_signature=(
            tf.TensorSpec((None, None), tf.int64),
            tf.TensorSpec((None,), tf.int32),
        ),
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(padded)))
    if seed is not None:
        dataset = dataset.shuffle(len(padded), seed=seed, reshuffle_each_iteration=True)
    return dataset.prefetch(2)


def dense_batches(
    rows, labels: np.ndarray, batch_size: int, seed: int | None
) -> tf.data.Dataset:
    """Shuffled (unless `seed=None`) batches of fixed-size rows."""
    dataset = tf.data.Dataset.from_tensor_slices((rows, labels))
    if seed is not None:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(2)


def build_recurrent(
    cell: str,
    vocabulary_size: int,
    num_classes: int,
    *,
    units: int = 128,
    embedding_dim: int = 64,
    truncate: int | None = None,
) -> keras_bp.BPTTModel:
    """Embedding(mask_zero=True) -> BPTTModel(GRU or LSTM cell) -> softmax.

    The loss is on the last step, which with the mask is the last real
    token; `truncate=k` backpropagates over the last k steps only
    (BPTT(k; k)), `None` over the whole text.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    return keras_bp.BPTTModel(
        cell=CELLS[cell](units),
        head=keras.layers.Dense(num_classes, activation="softmax"),
        k1=truncate,
        k2=truncate,
        return_sequences=False,
        embedding=keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True
        ),
        name=f"text_{cell}",
    )


def build_bow(num_features: int, num_classes: int) -> keras_bp.Model:
    """Multinomial logistic regression on a multi-hot bag of n-grams."""
    inputs = keras.Input(shape=(num_features,), name="ngrams")
    outputs = keras.layers.Dense(num_classes, activation="softmax")(inputs)
    return keras_bp.Model(inputs, outputs, name="text_bow")


@dataclass
class Prepared:
    """A fitted vectorizer, the batched splits and how to build the network."""

    kind: str
    spec: dict[str, Any]
    layer: keras.layers.TextVectorization
    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset

    def build(
        self,
        num_classes: int,
        *,
        units: int = 128,
        embedding_dim: int = 64,
        truncate: int | None = None,
    ) -> keras.Model:
        """A fresh network for these inputs (the recurrent options aside for bow)."""
        size = self.layer.vocabulary_size()
        if self.kind == "bow":
            return build_bow(size, num_classes)
        return build_recurrent(
            self.kind,
            size,
            num_classes,
            units=units,
            embedding_dim=embedding_dim,
            truncate=truncate,
        )


def prepare(
    kind: str,
    splits: Splits,
    *,
    level: str,
    max_tokens: int,
    max_length: int,
    batch_size: int,
    seed: int,
) -> Prepared:
    """Fit the vectorizer on the training texts and batch every split.

    Recurrent models get `length_batches`, the bag of n-grams shuffled
    batches; only the training batches are shuffled.
    """
    spec = vectorizer_settings(kind, level, max_tokens, max_length)
    layer = make_vectorizer(spec, texts=splits.train[0])
    batches = dense_batches if kind == "bow" else length_batches

    def batched(texts_and_labels, shuffle_seed):
        texts, labels = texts_and_labels
        return batches(encode(layer, spec, texts), labels, batch_size, shuffle_seed)

    return Prepared(
        kind,
        spec,
        layer,
        train=batched(splits.train, seed),
        validation=batched(splits.validation, None),
        test=batched(splits.test, None),
    )


def predict_classes(
    model: keras.Model, dataset: tf.data.Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """The true and the predicted class of every example, in batch order."""
    labels, predicted = [], []
    for inputs, targets in dataset:
        labels.append(targets.numpy())
        predicted.append(np.argmax(model.predict_on_batch(inputs), axis=-1))
    return np.concatenate(labels), np.concatenate(predicted)


def train_bow_baseline(
    splits: Splits,
    class_names: Sequence[str],
    *,
    level: str,
    max_tokens: int,
    epochs: int,
    batch_size: int,
    seed: int,
) -> dict[str, float]:
    """Test accuracy and macro-F1 of the bag of n-grams trained with Adam."""
    from applications.common.classification import summarize

    keras.utils.set_random_seed(seed)
    prepared = prepare(
        "bow",
        splits,
        level=level,
        max_tokens=max_tokens,
        max_length=0,
        batch_size=batch_size,
        seed=seed,
    )
    network = prepared.build(len(class_names))
    network.compile(
        optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy"
    )
    network.fit(prepared.train, epochs=epochs, verbose=0, shuffle=False)
    summary = summarize(*predict_classes(network, prepared.test), class_names)
    return {"accuracy": summary["accuracy"], "macro_f1": summary["macro_f1"]}


def predict_texts(
    directory: Path, texts: Sequence[str]
) -> list[tuple[str, str, float]]:
    """`(text, predicted class, its probability)` with the model saved in `directory`.

    Raises:
        AppError: when `directory` holds no trained model.
    """
    for name in (MODEL_FILE, VECTORIZER_FILE):
        if not (directory / name).is_file():
            raise AppError(
                f"{directory} holds no {name}: pass the --output directory of a "
                f"training run ({PROG_HINT})"
            )
    layer, spec = load_vectorizer(directory / VECTORIZER_FILE)
    network = keras.saving.load_model(directory / MODEL_FILE)
    inputs = encode(layer, spec, texts)
    if isinstance(inputs, tf.RaggedTensor):
        inputs = inputs.to_tensor()
    probabilities = np.asarray(network.predict_on_batch(inputs))
    best = probabilities.argmax(axis=-1)
    names = spec["class_names"]
    return [
        (text, names[b], float(p[b])) for text, b, p in zip(texts, best, probabilities)
    ]
