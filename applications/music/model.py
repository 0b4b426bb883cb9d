"""The melody model: a `keras_bp.BPTTModel` over (pitch, duration) tokens.

Embedding (token 0 is padding, masked) -> an LSTM or GRU cell -> softmax
over the vocabulary, at every step: the prediction of the next token.
Trained with truncated BPTT(k2; k1) across whole pieces, the cell's state
carried from one window to the next.
"""

import keras
import numpy as np
import tensorflow as tf

import keras_bp
from applications.music.data import PAD, START, UNKNOWN

CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}
# Tokens the model reads but never predicts: their probability is
# renormalised away, so the model and the n-gram models score the same events.
_NEVER_TARGETS = (PAD, START)


def build(
    cell: str,
    vocabulary_size: int,
    *,
    units: int,
    embedding_size: int,
    k1: int,
    k2: int,
    dropout: float = 0.0,
) -> keras_bp.BPTTModel:
    """A next-token model with a `cell` (a key of `CELLS`) of `units` units."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    return keras_bp.BPTTModel(
        cell=CELLS[cell](units, dropout=dropout),
        head=keras.layers.Dense(vocabulary_size, activation="softmax"),
        embedding=keras.layers.Embedding(
            vocabulary_size, embedding_size, mask_zero=True
        ),
        k1=k1,
        k2=k2,
        name=f"melody_{cell}",
    )


def token_log_likelihoods(
    model: keras.Model, inputs: np.ndarray, targets: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """log p(target | the piece so far) of every target that is not padding.

    The model runs each whole piece forward from a zero state.
    """
    probabilities = model.predict(inputs, batch_size=batch_size, verbose=0)
    probabilities = probabilities.astype(np.float64)
    never = probabilities[..., list(_NEVER_TARGETS)].sum(axis=-1)
    chosen = np.take_along_axis(probabilities, targets[..., None], axis=-1)[..., 0]
    valid = targets != PAD
    return np.log(chosen[valid] / (1.0 - never[valid]))


def sample(
    model: keras_bp.BPTTModel,
    prefixes: list[list[int]],
    length: int,
    temperature: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Continue each token prefix by `length` sampled word tokens.

    Every prefix starts with `<start>` and all have the same length. The
    cell runs one step at a time, its state carried; each next token is
    drawn from the model's distribution sharpened (temperature < 1) or
    flattened (> 1) as p ** (1 / temperature). `<unknown>` and the special
    tokens are never drawn: they are no notes.

    Returns:
        `(len(prefixes), length)` int token ids.
    """
    cell, embedding, head = model.cell, model.embedding, model.head
    batch = len(prefixes)
    states = tf.nest.flatten(cell.get_initial_state(batch))
    banned = [PAD, START, UNKNOWN]
    prefix = np.asarray(prefixes, np.int32)
    tokens = prefix[:, 0]
    drawn = []
    for step in range(prefix.shape[1] - 1 + length):
        # The table itself, not embedding(tokens): no token here is padding,
        # and the mask Embedding would attach makes the cell warn.
        inputs = tf.gather(embedding.embeddings, tokens)
        output, states = cell(inputs, states)
        states = tf.nest.flatten(states)
        if step + 1 < prefix.shape[1]:
            tokens = prefix[:, step + 1]
            continue
        with np.errstate(divide="ignore"):
            logits = np.log(np.asarray(head(output), np.float64)) / temperature
        logits[:, banned] = -np.inf
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        tokens = np.array([rng.choice(len(row), p=row) for row in weights], np.int32)
        drawn.append(tokens)
    return np.stack(drawn, axis=1)
