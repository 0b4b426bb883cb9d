"""Resilient backpropagation (Rprop) and its improved variants."""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

VARIANTS = ("rprop+", "rprop-", "irprop+", "irprop-")


def rprop_update(
    gradient,
    previous_gradient,
    step_size,
    previous_change=None,
    loss_increased=None,
    *,
    etas=(0.5, 1.2),
    step_sizes=(1e-6, 50.0),
    variant="irprop-",
):
    """One Rprop step for one weight tensor, as a pure function.

    Args:
        gradient: dE/dw now.
        previous_gradient: the gradient kept by the last step (0 at first).
        step_size: the per-weight step size Delta.
        previous_change: the last weight change dw (the "+" variants only).
        loss_increased: boolean scalar, E_now > E_prev (irprop+ only).
        etas: `(eta_minus, eta_plus)`.
        step_sizes: `(Delta_min, Delta_max)`.
        variant: one of `VARIANTS`.

    Returns:
        `(change, kept_gradient, new_step_size)`: the weight change to add to
        the weights, the gradient to keep for the next step, and Delta.
    """

    # ops.cast would round a Python float to float32 first.
    def constant(value):
        return ops.convert_to_tensor(value, dtype=step_size.dtype)

    eta_minus, eta_plus = map(constant, etas)
    step_min, step_max = map(constant, step_sizes)
    product = gradient * previous_gradient
    sign_flipped = product < 0
    # The step size starts inside [Delta_min, Delta_max], so clipping the
    # scaled one is the paper's min(Delta * eta_plus, Delta_max) and
    # max(Delta * eta_minus, Delta_min).
    factor = ops.where(
        product > 0, eta_plus, ops.where(sign_flipped, eta_minus, constant(1.0))
    )
    new_step_size = ops.clip(step_size * factor, step_min, step_max)
    if variant == "rprop-":
        return -ops.sign(gradient) * new_step_size, gradient, new_step_size
    kept_gradient = ops.where(sign_flipped, 0.0, gradient)
    change = -ops.sign(kept_gradient) * new_step_size
    if variant == "irprop-":
        return change, kept_gradient, new_step_size
    backtrack = -previous_change
    if variant == "irprop+":
        backtrack = ops.where(loss_increased, backtrack, 0.0)
    return ops.where(sign_flipped, backtrack, change), kept_gradient, new_step_size


# One fused kernel a weight tensor instead of a dozen elementwise ones: the
# update then costs less than Adam's even where the training step is not
# compiled with XLA.
_compiled_rprop_update = tf.function(rprop_update, jit_compile=True)


@keras.saving.register_keras_serializable(package="keras_bp")
class Rprop(keras.optimizers.Optimizer):
    """Resilient backpropagation: sign-only steps with a per-weight step size.

    Per weight, with `g` the gradient now and `g_prev` the gradient kept from
    the last step (0 at first), the step size `Delta` adapts to the sign of
    `g * g_prev`, then the weight moves by `Delta` against the sign of `g`:

    ```python
    if g * g_prev > 0:   Delta = min(Delta * eta_plus, Delta_max)
    elif g * g_prev < 0: Delta = max(Delta * eta_minus, Delta_min)

    # rprop-
    w -= sign(g) * Delta;                          g_prev = g
    # irprop- (what torch.optim.Rprop computes)
    if g * g_prev < 0: g = 0
    w -= sign(g) * Delta;                          g_prev = g
    # rprop+
    if g * g_prev < 0: dw = -dw_prev;              g_prev = 0
    else:              dw = -sign(g) * Delta;      g_prev = g
    w += dw;                                       dw_prev = dw
    # irprop+: as rprop+, but undo (dw = -dw_prev) only if E_now > E_prev,
    # else dw = 0 where the sign flipped.
    ```

    The magnitude of the gradient is never used, only its sign, so Rprop
    needs no tuned learning rate. It is a full-batch method: on mini-batches
    the gradient's sign is noisy and the step sizes shrink for no reason, so
    train with large batches or the whole data set at once.

    iRprop+ compares the loss with the last step's loss, so it needs the
    loss: train with `keras_bp.Model` (whose `train_step` passes it), or
    call `optimizer.apply(grads, variables, loss=loss)` yourself. It cannot
    run inside Keras's `LossScaleOptimizer` (the `mixed_float16` policy),
    which passes no loss on.

    Args:
        learning_rate: the initial step size `Delta_0`, a positive float,
            clamped into `step_sizes`. Defaults to `0.01`.
        etas: `(eta_minus, eta_plus)`, with `0 < eta_minus < 1 < eta_plus`:
            the factors that shrink and grow the step size. Defaults to
            `(0.5, 1.2)`.
        step_sizes: `(Delta_min, Delta_max)`, with
            `0 <= Delta_min <= Delta_max`. Defaults to `(1e-6, 50.0)`.
        variant: `"rprop+"`, `"rprop-"`, `"irprop+"` or `"irprop-"`
            (case-insensitive). Defaults to `"irprop-"`.
        name: Defaults to `"rprop"`.
        **kwargs: passed to `keras.optimizers.Optimizer`: `clipnorm`,
            `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
            `gradient_accumulation_steps`, `loss_scale_factor`, ...

    References:
        - [Riedmiller & Braun, 1993](https://doi.org/10.1109/ICNN.1993.298623):
          A direct adaptive method for faster backpropagation learning:
          the RPROP algorithm.
        - [Igel & Huesken, 2000](https://citeseerx.ist.psu.edu/document?doi=10.1.1.17.1332):
          Improving the Rprop learning algorithm.
    """

    def __init__(
        self,
        learning_rate=0.01,
        etas=(0.5, 1.2),
        step_sizes=(1e-6, 50.0),
        variant="irprop-",
        name="rprop",
        **kwargs,
    ):
        if isinstance(learning_rate, (bool, np.bool_)) or not isinstance(
            learning_rate, numbers.Real
        ):
            raise ValueError(
                "Rprop adapts its own step sizes: `learning_rate` is the initial "
                f"step size and must be a positive number, got {learning_rate!r}."
            )
        if not 0 < learning_rate < math.inf:
            raise ValueError(
                f"`learning_rate` must be finite and > 0, got {learning_rate!r}."
            )
        eta_minus, eta_plus = _pair("etas", etas)
        if not 0 < eta_minus < 1 < eta_plus < math.inf:
            raise ValueError(
                "`etas` must be (eta_minus, eta_plus) with "
                f"0 < eta_minus < 1 < eta_plus < inf, got {tuple(etas)!r}."
            )
        step_min, step_max = _pair("step_sizes", step_sizes)
        if not (0 <= step_min <= step_max < math.inf and step_max > 0):
            raise ValueError(
                "`step_sizes` must be (Delta_min, Delta_max) with "
                f"0 <= Delta_min <= Delta_max < inf and Delta_max > 0, "
                f"got {tuple(step_sizes)!r}."
            )
        if not isinstance(variant, str) or variant.lower() not in VARIANTS:
            raise ValueError(
                f"`variant` must be one of {', '.join(VARIANTS)}, got {variant!r}."
            )
        super().__init__(learning_rate=float(learning_rate), name=name, **kwargs)
        self.etas = (eta_minus, eta_plus)
        self.step_sizes = (step_min, step_max)
        self.variant = variant.lower()
        self._initial_step = float(learning_rate)
        if self.variant == "irprop+":
            # The loss of the current and of the last step, shared by every
            # weight; float64, so that a rise too small for float32 still
            # counts. Assigning the loss in a replica sums the replicas' shares,
            # as Keras sums their gradients.
            self._loss = self.add_variable(
                (), dtype="float64", name="loss", aggregation="sum"
            )
            self._previous_loss = self.add_variable(
                (),
                dtype="float64",
                name="previous_loss",
                aggregation="only_first_replica",
            )

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        initial_step = min(
            max(self._initial_step, self.step_sizes[0]), self.step_sizes[1]
        )
        self.previous_gradients = self.add_optimizer_variables(
            variables, "previous_gradient"
        )
        self.step_size_values = self.add_optimizer_variables(
            variables,
            "step_size",
            # Not keras.initializers.Constant: it rounds the value to float32
            # before casting, which float64 weights would notice.
            initializer=lambda shape, dtype: ops.full(shape, initial_step, dtype),
        )
        self.previous_changes = (
            self.add_optimizer_variables(variables, "previous_change")
            if self.variant.endswith("+")
            else []
        )

    @property
    def needs_loss(self) -> bool:
        """Whether `apply` must be given the loss (iRprop+ only)."""
        return self.variant == "irprop+"

    def apply(self, grads, trainable_variables=None, loss=None):
        """Apply `grads` to `trainable_variables`; iRprop+ also needs `loss`.

        Args:
            grads: the gradients, one for each variable.
            trainable_variables: the variables (needed on the first call).
            loss: the scalar loss at which `grads` were taken. Under a
                distribution strategy, pass each replica's share of the loss
                (as Keras computes it): the shares are summed across replicas
                like the gradients are.
        """
        if self.variant != "irprop+":
            return super().apply(grads, trainable_variables)
        if loss is None:
            raise ValueError(
                "Rprop(variant='irprop+') compares the loss between steps, so it "
                "needs the loss: build the model as keras_bp.Model(inputs, "
                "outputs) (not keras.Model or keras.Sequential), or call "
                "optimizer.apply(grads, variables, loss=loss). It does not work "
                "inside a LossScaleOptimizer (mixed precision), which does not "
                "pass the loss on."
            )
        loss = tf.cast(tf.convert_to_tensor(loss, dtype_hint="float64"), "float64")
        self._previous_loss.assign(self._loss)
        self._loss.assign(loss)
        return super().apply(grads, trainable_variables)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        # Rows an Embedding did not touch have a zero gradient, which still
        # resets their kept gradient: so sparse gradients are applied densely.
        gradient = ops.cast(tf.convert_to_tensor(gradient), variable.dtype)
        previous_change = (
            self.previous_changes[index] if self.previous_changes else None
        )
        loss_increased = (
            self._loss > self._previous_loss if self.variant == "irprop+" else None
        )
        read = tf.convert_to_tensor
        change, kept_gradient, step_size = _compiled_rprop_update(
            gradient,
            read(self.previous_gradients[index]),
            read(self.step_size_values[index]),
            None if previous_change is None else read(previous_change),
            loss_increased,
            etas=self.etas,
            step_sizes=self.step_sizes,
            variant=self.variant,
        )
        self.assign_add(variable, change)
        self.assign(self.previous_gradients[index], kept_gradient)
        self.assign(self.step_size_values[index], step_size)
        if previous_change is not None:
            self.assign(previous_change, change)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "etas": self.etas,
                "step_sizes": self.step_sizes,
                "variant": self.variant,
            }
        )
        return config


def _pair(name, value):
    try:
        first, second = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a pair of numbers, got {value!r}."
        ) from None
    return first, second
