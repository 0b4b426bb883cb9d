"""Backpropagation through time, full or truncated BPTT(k2; k1), as a model."""

import contextlib
import inspect
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_bp.models.base import Model

GRADIENTS = ("autodiff", "explicit")

# f'(a) written with h = f(a), for the activations the explicit backward pass
# knows: the forward pass keeps h_t, so a_t need not be stored.
_DERIVATIVES = {
    "tanh": lambda h: 1.0 - h * h,
    "sigmoid": lambda h: h * (1.0 - h),
    "relu": lambda h: tf.cast(h > 0, h.dtype),
    "linear": tf.ones_like,
}


class _Window(NamedTuple):
    """How one window is masked, scored and continued."""

    mask: Any  # (batch, steps) for the recurrence, or None
    loss_mask: Any  # (batch, loss steps) for the loss, or None
    loss_steps: Any  # how many last steps the loss covers, None: all
    carry_step: Any  # the step whose states the next window starts from


@keras.saving.register_keras_serializable(package="keras_bp")
class BPTTModel(Model):
    """A recurrent model trained by explicit backpropagation through time.

    The cell is unrolled over the time axis inside the model, `head` maps
    each step's cell output to a prediction, and `train_step` backpropagates
    the loss through the unrolled steps, over the whole sequence (full BPTT)
    or over windows (truncated BPTT(k2; k1), Williams & Peng 1990):

    ```python
    h = 0                                      # the state carried forward
    for end in k1, 2 * k1, 3 * k1, ...:        # while end - k1 < T
        start = max(end - k2, 0)
        # forward from the constant state h (the state at step `start`),
        # with the current weights
        outputs, h_next = unroll(cell, x[start:end], h)
        loss = loss_fn(y[end - k1:end], head(outputs[-k1:]))
        grads = d loss / d weights             # through k2 steps, no further
        optimizer.apply(grads, weights, loss)  # one update per window
        h = h_next                             # the state at end + k1 - k2
    ```

    The state entering a window is the one an earlier window's forward pass
    computed, with the weights of that moment; it is not recomputed after
    an update. A window keeps only its own k2 steps for the backward pass,
    so memory grows with k2, not with the sequence length T. `k1 = k2` is
    the common "chunked" case; `k1 = k2 = None` is full BPTT, one update a
    batch. When k1 does not divide T, the last window is cut short at T: it
    scores its last T mod k1 steps. With `return_sequences=False` the loss
    is on the last step only: one update a batch, the gradient going back k2
    steps from the end (k1 then plays no part).

    `evaluate` and `predict` run the whole sequence forward with the
    current weights. The logged training `loss` is the mean of the window
    losses; the training metrics compare `y` with the predictions the
    windows made as they went.

    With `gradient="explicit"` (SimpleRNNCell only) the backward pass is the
    textbook recursion, with a_t = x_t W + h_{t-1} W_h + b, h_t = f(a_t):

    ```python
    carried = 0
    for t in T, ..., 1:
        dh_t = dL/dh_t (through the head at step t) + carried
        delta_t = dh_t * f'(a_t)
        dW += x_t^T delta_t;  dW_h += h_{t-1}^T delta_t;  db += sum(delta_t)
        carried = delta_t @ W_h^T
    ```

    (the loss and head derivatives, dL/dh_t above, come from autodiff). It
    computes the same gradients as `gradient="autodiff"`.

    Padded steps (a mask from `embedding`, e.g. `Embedding(mask_zero=True)`)
    keep the state unchanged and are left out of the loss, as in Keras's RNN
    layers.

    Args:
        cell: a Keras RNN cell (`SimpleRNNCell`, `GRUCell`, `LSTMCell`, ...)
            or any layer with the cell protocol: a `state_size` and
            `call(inputs, states) -> (output, new_states)`.
        head: a layer applied to the cell output at each step, e.g.
            `keras.layers.Dense(1)`.
        k1: steps between two updates (truncated BPTT), a positive integer,
            or `None` for full BPTT. Defaults to `None`.
        k2: steps the gradient flows back, an integer `>= k1`, or `None`
            (given together with `k1`). Defaults to `None`.
        return_sequences: `True` for a prediction (and a loss term) at every
            step, `False` for the last step only. Defaults to `True`.
        gradient: `"autodiff"` or `"explicit"` (SimpleRNNCell with a tanh,
            sigmoid, relu or linear activation and no dropout). Defaults to
            `"autodiff"`.
        embedding: an optional layer applied to `x` first, trained with the
            rest, e.g. `keras.layers.Embedding(..., mask_zero=True)` or
            `keras.layers.Masking()`; its `compute_mask` marks padded steps.
            Defaults to `None`.
        **kwargs: passed to `keras.Model` (`name`, ...).

    Inputs are `(batch, time, features)` floats (or whatever `embedding`
    maps to that); targets `(batch, time, ...)` with
    `return_sequences=True`, else `(batch, ...)`. Under a mixed precision
    policy the time loop runs in the cell's compute dtype (float16).
    `keras_bp.GradientNormsThroughTime` records
    `gradient_norms_through_time` during `fit`.

    References:
        - [Williams & Peng, 1990](https://doi.org/10.1162/neco.1990.2.4.490):
          An efficient gradient-based algorithm for on-line training of
          recurrent network trajectories.
        - [Werbos, 1990](https://doi.org/10.1109/5.58337): Backpropagation
          through time: what it does and how to do it.
    """

    def __init__(
        self,
        cell,
        head,
        k1=None,
        k2=None,
        return_sequences=True,
        gradient="autodiff",
        embedding=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_cell(cell)
        _check_layer("head", head, "keras.layers.Dense(1)")
        if embedding is not None:
            _check_layer("embedding", embedding, "keras.layers.Embedding(1000, 16)")
        self.k1, self.k2 = _check_truncation(k1, k2)
        if not isinstance(return_sequences, (bool, np.bool_)):
            raise ValueError(
                f"`return_sequences` must be True or False, got {return_sequences!r}."
            )
        return_sequences = bool(return_sequences)
        if gradient not in GRADIENTS:
            raise ValueError(
                f"`gradient` must be one of {', '.join(GRADIENTS)}, got {gradient!r}."
            )
        if gradient == "explicit":
            _check_explicit(cell)
        # In this order trainable_weights runs from input to output, as in a
        # Sequential of Embedding, RNN and Dense.
        self.embedding = embedding
        self.cell = cell
        self.head = head
        self.return_sequences = return_sequences
        self.gradient = gradient
        self._cell_takes_training = (
            "training" in inspect.signature(cell.call).parameters
        )
        self._gradient_norms_function = None

    # --- building and the forward pass --------------------------------------

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.embedding is not None:
            if not self.embedding.built:
                self.embedding.build(shape)
            shape = tuple(self.embedding.compute_output_shape(shape))
        _check_sequence_shape(shape)
        if not self.cell.built:
            self.cell.build((shape[0], shape[2]))
        units = self._output_size()
        self._input_features = shape[2]
        if not self.head.built:
            self.head.build(
                (shape[0], shape[1], units)
                if self.return_sequences
                else (shape[0], units)
            )

    def call(self, inputs, training=None):
        sequences, mask = self._embed(inputs)
        batch_size = tf.shape(sequences)[0]
        states = self._initial_states(batch_size)
        with self._dropout_masks(batch_size, states):
            outputs, _ = self._unroll(sequences, states, mask, training)
        return self._head(outputs, mask)

    def _output_size(self):
        size = getattr(self.cell, "output_size", None)
        if size is None:
            size = tf.nest.flatten(self.cell.state_size)[0]
        return int(size)

    def _embed(self, inputs, with_mask=True):
        """The `(batch, time, features)` sequences and their mask (or None)."""
        if self.embedding is None:
            _check_float_inputs(inputs)
            # As Keras autocasts a layer's inputs: under a mixed precision
            # policy the cell computes (and its loop carries) float16.
            sequences = tf.cast(inputs, self.cell.compute_dtype)
        else:
            sequences = self.embedding(inputs)
        _check_sequence_shape(sequences.shape)
        self._check_features(sequences.shape)
        return sequences, self._mask(inputs) if with_mask else None

    def _check_features(self, shape):
        built_for = getattr(self, "_input_features", None)
        if built_for is not None and shape[2] is not None and shape[2] != built_for:
            raise ValueError(
                f"BPTTModel was built for {built_for} features a step, got "
                f"sequences of shape {tuple(shape)}."
            )

    def _mask(self, inputs):
        """`(batch, time)` booleans, False at padded steps, or None."""
        if self.embedding is None:
            return None
        return self.embedding.compute_mask(inputs, None)

    def _head(self, outputs, mask):
        """The predictions from cell outputs `(batch, steps, units)`."""
        if not self.return_sequences:
            return self.head(outputs[:, -1])
        predictions = self.head(outputs)
        if mask is not None:
            # Where Keras's losses and metrics look for a mask to skip steps.
            predictions._keras_mask = mask
        return predictions

    def _initial_states(self, batch_size):
        if hasattr(self.cell, "get_initial_state"):
            states = self.cell.get_initial_state(batch_size)
        else:
            states = [
                tf.zeros((batch_size, size), self.cell.compute_dtype)
                for size in tf.nest.flatten(self.cell.state_size)
            ]
        return tf.nest.flatten(states)

    @contextlib.contextmanager
    def _dropout_masks(self, batch_size, states):
        """Draw the cell's dropout masks once for all steps of a batch."""
        # Inside the time loop a first draw would be a tensor of the loop's
        # own graph; Keras's RNN layer draws them beforehand for that reason.
        cell = self.cell
        if not hasattr(cell, "get_dropout_mask"):
            yield
            return
        step = tf.zeros((batch_size, self._input_features), cell.compute_dtype)
        cell.get_dropout_mask(step)
        cell.get_recurrent_dropout_mask(states[0])
        try:
            yield
        finally:
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()

    def _unroll(self, sequences, states, mask=None, training=None, perturbations=None):
        """Run the cell over `sequences` from `states`.

        Args:
            sequences: `(batch, steps, features)`.
            states: the flat list of state tensors entering the first step.
            mask: `(batch, steps)` booleans, or None: a masked step keeps the
                states and repeats the last output.
            training: passed to the cell.
            perturbations: a list like `states` of `(steps, batch, size)`
                tensors added to the states after each step, so that their
                gradients are dL/dstate_t (see `gradient_norms_through_time`).

        Returns:
            `(outputs, states)`: `(batch, steps, units)` and the final states.
        """
        steps = _time_steps(sequences)
        inputs = _unstack_time(sequences)
        masks = None if mask is None else _unstack_time(mask)
        added = None if perturbations is None else [_unstack(p) for p in perturbations]
        units = self._output_size()
        outputs = tf.TensorArray(
            sequences.dtype,
            size=steps,
            element_shape=tf.TensorShape([sequences.shape[0], units]),
        )
        kwargs = {"training": training} if self._cell_takes_training else {}

        def body(t, outputs, last_output, *states):
            output, new_states = self.cell(
                inputs.read(t), self._pack_states(states), **kwargs
            )
            new_states = tf.nest.flatten(new_states)
            # Keras's cells return their output as their first state; then
            # the output follows any mask or perturbation of that state.
            output_is_state = output is new_states[0]
            if masks is not None:
                keep = masks.read(t)[:, None]
                new_states = [tf.where(keep, n, s) for n, s in zip(new_states, states)]
            if added is not None:
                new_states = [n + a.read(t) for n, a in zip(new_states, added)]
            if output_is_state:
                output = new_states[0]
            elif masks is not None:
                output = tf.where(keep, output, last_output)
            return (t + 1, outputs.write(t, output), output, *new_states)

        last_output = tf.zeros((tf.shape(sequences)[0], units), sequences.dtype)
        _, outputs, _, *states = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), outputs, last_output, *states),
            maximum_iterations=steps,
            # As keras.layers.RNN runs its loop.
            parallel_iterations=32,
            swap_memory=True,
        )
        return _stack_time(outputs), states

    def _pack_states(self, states):
        """The flat states in the cell's structure, always a list as in Keras."""
        packed = tf.nest.pack_sequence_as(self.cell.state_size, list(states))
        return packed if tf.nest.is_nested(packed) else [packed]

    # --- the explicit backward pass (SimpleRNNCell) --------------------------

    def _explicit_forward(self, sequences, state, mask):
        """The states h_1..h_n `(batch, n, units)` of a SimpleRNNCell."""
        cell = self.cell
        kernel, recurrent_kernel, bias = self._explicit_weights(sequences.dtype)
        projected = tf.einsum("btf,fu->btu", sequences, kernel)
        if bias is not None:
            projected = projected + bias

        def step(h, elements):
            a_without_h, *keep = elements
            new = cell.activation(a_without_h + tf.matmul(h, recurrent_kernel))
            return tf.where(keep[0][:, None], new, h) if keep else new

        elements = _time_major_all(projected, mask)
        return _batch_major(tf.scan(step, elements, initializer=state))

    def _explicit_backward(self, sequences, states, h0, mask, d_states):
        """The recursion of the class docstring, for one window.

        Args:
            sequences: the inputs `(batch, n, features)`.
            states: h_1..h_n `(batch, n, units)`.
            h0: the state entering the window `(batch, units)`.
            mask: `(batch, n)` booleans or None.
            d_states: dL/dh_t through the head only, `(batch, n, units)`.

        Returns:
            `(grads, d_sequences, dh)`: `grads` maps each cell weight to its
            gradient, `d_sequences` is dL/dx_t, `dh` the total dL/dh_t.
        """
        cell = self.cell
        derivative = _DERIVATIVES[keras.activations.serialize(cell.activation)]
        kernel, recurrent_kernel, _ = self._explicit_weights(sequences.dtype)
        recurrent_t = tf.transpose(recurrent_kernel)

        def step(carry, elements):
            carried, _, _ = carry
            direct, h, *keep = elements
            dh = direct + carried
            delta = dh * derivative(h)
            if not keep:
                return delta @ recurrent_t, delta, dh
            keep = tf.cast(keep[0][:, None], dh.dtype)
            delta = keep * delta
            return delta @ recurrent_t + (1.0 - keep) * dh, delta, dh

        zeros = tf.zeros_like(h0)
        elements = _time_major_all(d_states, states, mask)
        _, deltas, dh = tf.scan(
            step, elements, initializer=(zeros, zeros, zeros), reverse=True
        )
        deltas, dh = _batch_major(deltas), _batch_major(dh)
        previous = tf.concat([h0[:, None], states[:, :-1]], axis=1)
        grads = [
            (cell.kernel, tf.einsum("btf,btu->fu", sequences, deltas)),
            (cell.recurrent_kernel, tf.einsum("btv,btu->vu", previous, deltas)),
        ]
        if cell.bias is not None:
            grads.append((cell.bias, tf.reduce_sum(deltas, axis=(0, 1))))
        # Under a mixed precision policy the recursion runs in float16; each
        # gradient takes its (float32) variable's dtype, as autodiff's do.
        grads = {id(v): tf.cast(g, v.dtype) for v, g in grads}
        d_sequences = tf.einsum("btu,fu->btf", deltas, kernel)
        return grads, d_sequences, dh

    def _explicit_weights(self, dtype):
        """The SimpleRNNCell's kernel, recurrent kernel and bias in `dtype`."""
        cell = self.cell
        weights = (cell.kernel, cell.recurrent_kernel, cell.bias)
        return tuple(None if w is None else tf.cast(w, dtype) for w in weights)

    # --- one window of training ---------------------------------------------

    def _window_forward(self, sequences, states, mask, carry_step):
        """A window's outputs and the states after its first `carry_step` steps.

        `carry_step=None` carries the final states.
        """
        if self.gradient == "explicit":
            outputs = self._explicit_forward(sequences, states[0], mask)
            return outputs, [outputs[:, -1 if carry_step is None else carry_step - 1]]
        if carry_step is None or carry_step == sequences.shape[1]:
            return self._unroll(sequences, states, mask, training=True)
        first_mask, second_mask = (
            (None, None) if mask is None else _split(mask, carry_step)
        )
        first_part, second_part = _split(sequences, carry_step)
        first, carried = self._unroll(first_part, states, first_mask, training=True)
        second, _ = self._unroll(second_part, carried, second_mask, training=True)
        return tf.concat([first, second], axis=1), carried

    def _window_step(self, x, y, sample_weight, states, window):
        """Forward, backward and one optimizer update for one window.

        Args:
            x: the window's inputs (before `embedding`).
            y, sample_weight: the targets (and weights) of its loss steps.
            states: the constant states entering the window.
            window: a `_Window`: masks, loss steps and carry step.

        Returns:
            `(predictions, carried_states)`.
        """
        variables = self.trainable_weights
        explicit = self.gradient == "explicit"
        with tf.GradientTape(persistent=explicit) as tape:
            sequences, _ = self._embed(x, with_mask=False)
            with tape.stop_recording() if explicit else contextlib.nullcontext():
                outputs, carried = self._window_forward(
                    sequences, states, window.mask, window.carry_step
                )
            if explicit:
                tape.watch(outputs)
            scored = outputs
            if window.loss_steps is not None:
                scored = outputs[:, -window.loss_steps :]
            predictions = self._head(scored, window.loss_mask)
            loss = self._compute_loss(
                x=x, y=y, y_pred=predictions, sample_weight=sample_weight, training=True
            )
            self.track_loss(loss, x)
            scaled_loss = self.optimizer.scale_loss(loss)
        if explicit:
            grads, _ = self._explicit_gradients(
                tape, scaled_loss, sequences, outputs, states[0], window.mask
            )
        else:
            grads = tape.gradient(scaled_loss, variables)
        self.apply_optimizer(grads, variables, loss)
        return predictions, carried

    def _explicit_gradients(self, tape, loss, sequences, outputs, h0, mask):
        """All weight gradients, the cell's through the explicit recursion.

        Autodiff (the persistent `tape`) gives dL/dh_t through the head, the
        head's gradients and any regularization term; the recursion gives the
        cell's gradients and dL/dx_t, which autodiff carries into `embedding`.

        Returns:
            `(grads, dh)`: one gradient per trainable weight, and dL/dh_t.
        """
        variables = self.trainable_weights
        d_outputs, *grads = tape.gradient(loss, [outputs, *variables])
        if d_outputs is None:
            d_outputs = tf.zeros_like(outputs)
        recursion, d_sequences, dh = self._explicit_backward(
            sequences, outputs, h0, mask, d_outputs
        )
        if self.embedding is not None and self.embedding.trainable_weights:
            embedding_weights = self.embedding.trainable_weights
            embedding_grads = tape.gradient(
                sequences, embedding_weights, output_gradients=d_sequences
            )
            recursion.update(zip(map(id, embedding_weights), embedding_grads))
        grads = [_add(g, recursion.get(id(v))) for g, v in zip(grads, variables)]
        return grads, dh

    # --- the training step --------------------------------------------------

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if self.k2 is None and self.gradient == "autodiff":
            return super().train_step(data)
        self._build_for(x)
        steps = _time_steps(x)
        self._check_targets(y, steps)
        batch_size = tf.shape(x)[0]
        states = self._initial_states(batch_size)
        with self._dropout_masks(batch_size, states):
            if not self.return_sequences:
                predictions = self._train_last_step(x, y, sample_weight, states, steps)
            elif self.k2 is None:
                mask = self._mask(x)
                predictions, _ = self._window_step(
                    x, y, sample_weight, states, _Window(mask, mask, None, None)
                )
            else:
                predictions = self._train_truncated(x, y, sample_weight, states, steps)
        return self.compute_metrics(x, y, predictions, sample_weight=sample_weight)

    def _build_for(self, x):
        """Build the model and the optimizer before the loops that use them."""
        # keras.Model builds both lazily, inside train_step; here their first
        # use is inside a while loop, where no variable can be created.
        if not self.built:
            self.build(x.shape)
        if not self.optimizer.built:
            with keras.name_scope(self.optimizer.name, caller=self.optimizer):
                self.optimizer.build(self.trainable_weights)

    def _train_last_step(self, x, y, sample_weight, states, steps):
        """One update a batch, the loss on the last step, k2 steps back."""
        mask = self._mask(x)
        if self.k2 is not None:
            # The steps before the last k2 only carry the state forward.
            split = tf.maximum(steps - self.k2, 0)
            prefix, x = x[:, :split], x[:, split:]
            prefix_mask = None
            if mask is not None:
                prefix_mask, mask = mask[:, :split], mask[:, split:]
            sequences, _ = self._embed(prefix, with_mask=False)
            _, states = self._unroll(sequences, states, prefix_mask, training=True)
            states = [tf.stop_gradient(s) for s in states]
        predictions, _ = self._window_step(
            x, y, sample_weight, states, _Window(mask, None, None, None)
        )
        return predictions

    def _train_truncated(self, x, y, sample_weight, states, steps):
        """BPTT(k2; k1) over one batch: a tf.while_loop over the windows.

        The time axis is padded so that every window has k2 steps: k2 - k1
        masked steps in front (the first windows start at step 0) and, at the
        end, up to a multiple of k1 (the last window ends at T and scores
        only the steps it has). Masked steps keep the state; the loss skips
        them.
        """
        k1, k2 = self.k1, self.k2
        mask = self._mask(x)
        windows = (steps + k1 - 1) // k1
        end_padding = windows * k1 - steps
        valid = tf.ones(tf.shape(x)[:2], tf.bool) if mask is None else mask
        valid = _pad_time(valid, k2 - k1, end_padding)
        x = _pad_time(x, k2 - k1, end_padding)
        y = _pad_time(y, 0, end_padding)
        weights_per_step = sample_weight is not None and len(sample_weight.shape) > 1
        if weights_per_step:
            sample_weight = _pad_time(sample_weight, 0, end_padding)
        # Static Python decisions: unpadded, unmasked windows skip the masks.
        ragged = not isinstance(steps, int) or steps % k1 != 0
        loss_masked = mask is not None or ragged
        recurrence_masked = loss_masked or k2 > k1

        def body(i, predictions, *states):
            start = i * k1
            window_predictions, carried = self._window_step(
                _window(x, start, k2),
                _window(y, start, k1),
                _window(sample_weight, start, k1)
                if weights_per_step
                else sample_weight,
                list(states),
                _Window(
                    mask=_window(valid, start, k2) if recurrence_masked else None,
                    loss_mask=_window(valid, start + k2 - k1, k1)
                    if loss_masked
                    else None,
                    loss_steps=k1,
                    carry_step=k1,
                ),
            )
            return (i + 1, predictions.write(i, window_predictions), *carried)

        # No gradient crosses from one window to the next: each window has
        # its own tape and what it hands on is a loop variable. So a window
        # keeps its k2 steps alive for its backward pass, whatever T is.
        _, predictions, *_ = tf.while_loop(
            lambda i, *_: i < windows,
            body,
            (
                tf.constant(0),
                tf.TensorArray(self.head.compute_dtype, size=windows),
                *states,
            ),
            maximum_iterations=windows,
        )
        # (windows, batch, k1, ...) -> (batch, T, ...)
        stacked = _batch_major(predictions.stack())
        shape = tf.shape(stacked)
        predictions = tf.reshape(stacked, tf.concat([shape[:1], [-1], shape[3:]], 0))
        predictions = predictions[:, :steps]
        if mask is not None:
            predictions._keras_mask = mask
        return predictions

    # --- checks and diagnostics ---------------------------------------------

    # fit, evaluate and predict check their x in Python first: inside Keras's
    # retraced step functions the feature axis may no longer be static.
    def fit(self, x=None, *args, **kwargs):
        self._check_data(x)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        self._check_data(x)
        return super().evaluate(x, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._check_data(x)
        return super().predict(x, *args, **kwargs)

    def _check_data(self, x):
        """Dtype, rank and feature count of array or tf.data inputs."""
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            x = spec[0] if isinstance(spec, tuple) else spec
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            return
        if self.embedding is None:
            _check_float_inputs(x)
            _check_sequence_shape(x.shape)
            self._check_features(x.shape)
        elif isinstance(self.embedding, keras.layers.Embedding) and len(x.shape) != 2:
            raise ValueError(
                "With an Embedding, x must be (batch, time) token ids, got x of "
                f"shape {tuple(x.shape)}."
            )
        if len(x.shape) > 1 and x.shape[1] == 0:
            raise ValueError(f"x has no time steps: shape {tuple(x.shape)}.")

    def _check_batch(self, x, y):
        """The one batch `gradient_norms_through_time` is asked about."""
        for name, value in (("x", x), ("y", y)):
            if isinstance(value, tf.data.Dataset) or not hasattr(value, "shape"):
                raise ValueError(
                    f"`{name}` must be one batch, an array or a tensor, got "
                    f"{type(value).__name__}."
                )
        self._check_data(x)
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"x and y must hold the same number of sequences, got x of shape "
                f"{tuple(x.shape)} and y of shape {tuple(y.shape)}."
            )
        self._check_targets(y, x.shape[1])

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if self.return_sequences and y_pred is not None and len(y_pred.shape) > 2:
            self._check_targets(y, y_pred.shape[1])
        if not self.return_sequences and y is not None and y_pred is not None:
            if len(y.shape) > len(y_pred.shape):
                # Keras would broadcast the last step's prediction over them.
                raise ValueError(
                    "With return_sequences=False the loss is on the last step: y "
                    f"must be (batch, ...) like the predictions {tuple(y_pred.shape)}"
                    f", got y of shape {tuple(y.shape)}."
                )
        return super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )

    def _check_targets(self, y, steps):
        """With an output at every step, y must have x's time length."""
        if not self.return_sequences or y is None or len(y.shape) < 2:
            return
        if isinstance(steps, int) and y.shape[1] is not None and y.shape[1] != steps:
            raise ValueError(
                f"`y` has {y.shape[1]} time steps but `x` has {steps}: with "
                "return_sequences=True, y must be (batch, time, ...) with x's "
                f"time length; got y of shape {tuple(y.shape)}."
            )

    def gradient_norms_through_time(self, x, y, sample_weight=None) -> np.ndarray:
        """The norm of dL/dh_t at each step t, for one batch (full BPTT).

        L is the compiled loss over the whole sequence (no truncation) and
        h_t the cell's state after step t (for LSTMCell both h_t and c_t),
        so dL/dh_t counts every path from h_t to the loss. Vanishing
        gradients show as norms falling towards the start of the sequence,
        exploding ones as norms growing. Plot them with
        `keras_bp.plot_gradient_norms`.

        Args:
            x, y, sample_weight: one batch, as for `train_on_batch`.

        Returns:
            A float array of shape `(time,)`: the norm over the batch and
            the state units of dL/dh_t.
        """
        if not self.compiled or self.loss is None:
            raise ValueError(
                "gradient_norms_through_time needs the loss: call "
                "`model.compile(loss=...)` first."
            )
        self._check_batch(x, y)
        x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
        if sample_weight is not None:
            sample_weight = tf.convert_to_tensor(sample_weight)
        if not self.built:
            self.build(x.shape)
        if self._gradient_norms_function is None:
            self._gradient_norms_function = tf.function(self._gradient_norms)
        return self._gradient_norms_function(x, y, sample_weight).numpy()

    def _gradient_norms(self, x, y, sample_weight):
        batch_size = tf.shape(x)[0]
        states = self._initial_states(batch_size)
        explicit = self.gradient == "explicit"
        with self._dropout_masks(batch_size, states):
            with tf.GradientTape(persistent=explicit) as tape:
                sequences, mask = self._embed(x)
                if explicit:
                    with tape.stop_recording():
                        outputs = self._explicit_forward(sequences, states[0], mask)
                    tape.watch(outputs)
                else:
                    # Zeros added to the states after each step: their
                    # gradients are dL/dh_t, every path included.
                    steps = _time_steps(sequences)
                    perturbations = [
                        tf.zeros(tf.concat([[steps], tf.shape(s)], 0), s.dtype)
                        for s in states
                    ]
                    tape.watch(perturbations)
                    outputs, _ = self._unroll(
                        sequences, states, mask, perturbations=perturbations
                    )
                predictions = self._head(outputs, mask)
                loss = self._compute_loss(
                    x=x,
                    y=y,
                    y_pred=predictions,
                    sample_weight=sample_weight,
                    training=False,
                )
        if explicit:
            _, dh = self._explicit_gradients(
                tape, loss, sequences, outputs, states[0], mask
            )
            return _norm_per_step([_time_major(dh)])
        return _norm_per_step(tape.gradient(loss, perturbations))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": keras.saving.serialize_keras_object(self.cell),
                "head": keras.saving.serialize_keras_object(self.head),
                "k1": self.k1,
                "k2": self.k2,
                "return_sequences": self.return_sequences,
                "gradient": self.gradient,
                "embedding": keras.saving.serialize_keras_object(self.embedding),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("cell", "head", "embedding"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


# --- small helpers ------------------------------------------------------------


def _check_cell(cell):
    if isinstance(cell, keras.layers.RNN):
        raise ValueError(
            "`cell` must be an RNN cell, not a whole recurrent layer: BPTTModel "
            f"does the unrolling itself. Got {cell!r}; pass its cell, e.g. "
            "keras.layers.SimpleRNNCell(8) instead of keras.layers.SimpleRNN(8)."
        )
    if not (isinstance(cell, keras.layers.Layer) and hasattr(cell, "state_size")):
        raise ValueError(
            "`cell` must be a Keras RNN cell: a keras.layers.Layer with a "
            "`state_size` and `call(inputs, states) -> (output, new_states)` "
            f"(e.g. keras.layers.SimpleRNNCell(8)), got {cell!r}."
        )


def _check_layer(name, layer, example):
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(
            f"`{name}` must be a keras.layers.Layer (e.g. {example}), got {layer!r}."
        )


def _check_truncation(k1, k2):
    if (k1 is None) != (k2 is None):
        raise ValueError(
            "Give both `k1` and `k2` (truncated BPTT) or neither (full BPTT), "
            f"got k1={k1!r}, k2={k2!r}."
        )
    if k1 is None:
        return None, None
    for name, value in (("k1", k1), ("k2", k2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if value < 1:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    if k2 < k1:
        raise ValueError(
            f"`k2` (steps back) must be >= `k1` (steps between updates), got "
            f"k1={k1}, k2={k2}."
        )
    return int(k1), int(k2)


def _check_explicit(cell):
    if type(cell) is not keras.layers.SimpleRNNCell:
        raise ValueError(
            'gradient="explicit" writes out the backward recursion of '
            'keras.layers.SimpleRNNCell only; use gradient="autodiff" for '
            f"{type(cell).__name__}."
        )
    activation = keras.activations.serialize(cell.activation)
    if activation not in _DERIVATIVES:
        raise ValueError(
            'gradient="explicit" knows the activations '
            f"{', '.join(_DERIVATIVES)}, got {activation!r}."
        )
    if cell.dropout or cell.recurrent_dropout:
        raise ValueError(
            'gradient="explicit" does not support dropout, got dropout='
            f"{cell.dropout}, recurrent_dropout={cell.recurrent_dropout}."
        )


def _check_float_inputs(inputs):
    dtype = tf.as_dtype(inputs.dtype)
    if not dtype.is_floating:
        raise ValueError(
            f"BPTTModel without an `embedding` expects float sequences, got "
            f"{dtype.name} inputs: for token ids pass e.g. "
            "embedding=keras.layers.Embedding(vocabulary_size, dim), else cast "
            "x to float32."
        )


def _check_sequence_shape(shape):
    if len(shape) != 3:
        raise ValueError(
            "BPTTModel expects sequences of shape (batch, time, features), got "
            f"shape {tuple(shape)}."
        )


def _time_steps(tensor):
    """The length of the time axis: a Python int when static, for XLA."""
    return tensor.shape[1] if tensor.shape[1] is not None else tf.shape(tensor)[1]


def _time_major(tensor):
    return tf.transpose(tensor, [1, 0, *range(2, len(tensor.shape))])


_batch_major = _time_major


def _time_major_all(*tensors):
    """The given tensors time-major, the None ones left out."""
    return [_time_major(t) for t in tensors if t is not None]


def _unstack(tensor):
    return tf.TensorArray(tensor.dtype, size=tf.shape(tensor)[0]).unstack(tensor)


def _unstack_time(tensor):
    return _unstack(_time_major(tensor))


def _stack_time(array):
    return _batch_major(array.stack())


def _split(tensor, step):
    return tensor[:, :step], tensor[:, step:]


def _pad_time(tensor, front, back):
    paddings = [[0, 0], [front, back]] + [[0, 0]] * (len(tensor.shape) - 2)
    return tf.pad(tensor, paddings)


def _window(tensor, start, size):
    """`tensor[:, start:start + size]`, with a static size."""
    begin = tf.concat([[0], [start], tf.zeros(len(tensor.shape) - 2, tf.int32)], 0)
    return tf.slice(tensor, begin, [-1, size] + [-1] * (len(tensor.shape) - 2))


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)


def _norm_per_step(gradients):
    """Norms over batch and units of time-major `(steps, batch, ...)` tensors."""
    squares = [
        tf.reduce_sum(tf.reshape(g * g, [tf.shape(g)[0], -1]), axis=1)
        for g in gradients
    ]
    return tf.sqrt(tf.add_n(squares))
