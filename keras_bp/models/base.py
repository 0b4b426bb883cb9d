"""A `keras.Model` whose training step hands the loss to the optimizer too."""

import inspect

import keras
import tensorflow as tf
from keras.src.models.functional import Functional
from keras.src.models.model import functional_init_arguments


@keras.saving.register_keras_serializable(package="keras_bp")
class Model(keras.Model):
    """Drop-in for `keras.Model` that also passes the loss to the optimizer.

    Some optimizers decide from the loss itself, not only from its gradient
    (iRprop+ undoes a step when the loss rose). Keras's `train_step` gives
    the optimizer the gradients alone; this one calls
    `optimizer.apply(grads, variables, loss=loss)` when the optimizer's
    `apply` takes a `loss`, and behaves exactly as `keras.Model` otherwise.

    Use it as `keras.Model`: functional (`keras_bp.Model(inputs, outputs)`)
    or subclassed.
    """

    def __new__(cls, *args, **kwargs):
        # keras.Model used functionally becomes a Functional; a subclass of it
        # gets Functional spliced into its bases for good (Keras rewrites
        # `__bases__`), which would break every later subclass of this class,
        # BPTTModel among them. A class of its own avoids that.
        if cls is Model and functional_init_arguments(args, kwargs):
            return super().__new__(FunctionalModel)
        return super().__new__(cls)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            self.track_loss(loss, x)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.apply_optimizer(gradients, self.trainable_weights, loss)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def track_loss(self, loss, x):
        """Record `loss` in the `loss` metric, weighted by the batch size."""
        # The same tracker and weighting as keras.Model's train_step, so the
        # logged loss is identical; Keras divides the loss by the number of
        # replicas for the gradients, the logged value is undivided.
        batch_size = tf.shape(next(t for t in tf.nest.flatten(x) if t is not None))[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._loss_tracker.update_state(loss * replicas, sample_weight=batch_size)

    def apply_optimizer(self, gradients, variables, loss):
        """Apply `gradients`, passing `loss` to optimizers that take it."""
        inner = getattr(self.optimizer, "inner_optimizer", None)
        if getattr(inner, "needs_loss", False):
            # Keras wraps the optimizer in a LossScaleOptimizer under the
            # mixed_float16 policy; its apply takes no loss.
            raise ValueError(
                f"{inner.name!r} ({type(inner).__name__}) needs the loss at every "
                "step, and Keras's LossScaleOptimizer (the mixed_float16 policy) "
                "does not pass it on: use an optimizer that does not (for Rprop, "
                "variant='irprop-') or the float32 policy."
            )
        if _takes_loss(self.optimizer):
            self.optimizer.apply(gradients, variables, loss=loss)
        else:
            self.optimizer.apply(gradients, variables)


@keras.saving.register_keras_serializable(package="keras_bp")
class FunctionalModel(Model, Functional):
    """What `keras_bp.Model(inputs, outputs)` builds: a Functional model with
    `keras_bp.Model`'s training step."""


def _takes_loss(optimizer) -> bool:
    return "loss" in inspect.signature(optimizer.apply).parameters
