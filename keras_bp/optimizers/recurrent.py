"""Recurrent backpropagation: gradient descent with a forgetting factor."""

import numbers

import keras
import tensorflow as tf
from keras import ops


def recurrent_update(
    gradient,
    running_sum,
    learning_rate,
    *,
    forgetting_factor=0.9,
    scale_history=True,
):
    """One forgetting-factor step for one weight tensor, as a pure function.

    Args:
        gradient: dE/dw now, `g(n)`.
        running_sum: `a(n-1) = g(n-1) + lam * g(n-2) + ...` (0 at first).
        learning_rate: `eta` at this step.
        forgetting_factor: `lam`, with `0 <= lam < 1`.
        scale_history: `True` for `dw = -eta * a(n)`, `False` for
            `dw = -eta * g(n) - lam * a(n-1)`.

    Returns:
        `(change, new_running_sum)`: the weight change to add to the weights
        and `a(n) = g(n) + lam * a(n-1)`, to keep for the next step.
    """
    history = forgetting_factor * running_sum
    new_running_sum = gradient + history
    if scale_history:
        return -learning_rate * new_running_sum, new_running_sum
    return -learning_rate * gradient - history, new_running_sum


@keras.saving.register_keras_serializable(package="keras_bp")
class RecurrentBackprop(keras.optimizers.Optimizer):
    """Recurrent backpropagation: every step also uses all earlier gradients.

    The weight change at step `n` adds the gradients of all earlier steps,
    each weighted down by a further factor of the forgetting factor `lam`.
    One slot per weight keeps the running sum `a`, so the memory is one copy
    of the weights whatever the length of the history:

    ```python
    a_prev = a
    a = g + lam * a_prev  # a(n) = g(n) + lam * g(n-1) + lam**2 * g(n-2) + ...
    # scale_history=True (the default): dw(n) = -eta * (g(n) + lam * g(n-1) + ...)
    w -= eta * a
    # scale_history=False, as usually written: dw(n) = -eta * g(n) - lam * g(n-1) - ...
    w -= eta * g + lam * a_prev
    ```

    `lam = 0` is plain gradient descent in both forms.

    The scaled form is heavy-ball momentum: with a constant learning rate it
    computes what `keras.optimizers.SGD(momentum=lam)` and
    `torch.optim.SGD(momentum=lam, dampening=0)` compute. With a learning-rate
    schedule it follows torch (the whole sum is multiplied by `eta` at step
    `n`), whereas Keras's SGD multiplies each gradient by the learning rate
    of the step it came from.

    In the form as written the history is not multiplied by `eta`: for a
    constant gradient `g` the step tends to `(eta + lam / (1 - lam)) * g`, so
    with `eta = 0.01` and `lam = 0.9` the history weighs nine hundred times
    more than the gradient of the step itself, and training diverges at
    learning rates that suit plain gradient descent. On a quadratic loss
    whose Hessian has largest eigenvalue `h`, with `eta < 1`, the as-written
    form converges exactly when `lam * (1 + (1 - eta) * h) < 1` and, if
    `eta > lam / (1 + lam)`, also `(eta - lam * (1 - eta)) * h < 2 * (1 + lam)`.
    The first bound, about `lam < 1 / (1 + h)`, is the one that bites: keep
    `lam` small (with `eta = 0.05`, dense networks on the 8x8 digits train
    at `lam <= 0.2` and diverge at `lam = 0.9`), or use the scaled form,
    which with the same `eta` is stable up to `h < 2 * (1 + lam) / eta`.

    Args:
        learning_rate: `eta`, a positive float, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable
            that takes no arguments and returns the value to use. At step `n`
            the value of step `n` multiplies `g(n)` (and, in the scaled form,
            the whole sum). Defaults to `0.01`.
        forgetting_factor: `lam`, a float with `0 <= lam < 1`: how much of the
            running sum survives each step. Defaults to `0.9`.
        scale_history: whether `eta` also multiplies the history (the scaled
            form) or only the gradient of the step (the form as written).
            Defaults to `True`.
        name: Defaults to `"recurrent_backprop"`.
        **kwargs: passed to `keras.optimizers.Optimizer`: `clipnorm`,
            `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
            `gradient_accumulation_steps`, `loss_scale_factor`, ...

    References:
        - [Rumelhart, Hinton & Williams, 1986](https://doi.org/10.1038/323533a0):
          Learning representations by back-propagating errors (the
          "momentum" term, there called acceleration with factor alpha).
        - [Polyak, 1964](https://doi.org/10.1016/0041-5553(64)90137-5):
          Some methods of speeding up the convergence of iteration methods
          (the heavy-ball method).
    """

    def __init__(
        self,
        learning_rate=0.01,
        forgetting_factor=0.9,
        scale_history=True,
        name="recurrent_backprop",
        **kwargs,
    ):
        if isinstance(learning_rate, numbers.Real) and not isinstance(
            learning_rate, bool
        ):
            if not learning_rate > 0:
                raise ValueError(f"`learning_rate` must be > 0, got {learning_rate!r}.")
            learning_rate = float(learning_rate)
        elif not (
            isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule)
            or callable(learning_rate)
        ):
            raise ValueError(
                "`learning_rate` must be a positive number, a "
                "keras.optimizers.schedules.LearningRateSchedule or a callable, "
                f"got {learning_rate!r}."
            )
        if (
            isinstance(forgetting_factor, bool)
            or not isinstance(forgetting_factor, numbers.Real)
            or not 0 <= forgetting_factor < 1
        ):
            raise ValueError(
                "`forgetting_factor` must be a number with 0 <= forgetting_factor "
                "< 1 (at 1 or more the running sum of gradients never forgets "
                f"and the steps can grow without bound), got {forgetting_factor!r}."
            )
        if not isinstance(scale_history, bool):
            raise ValueError(
                f"`scale_history` must be True or False, got {scale_history!r}."
            )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.forgetting_factor = float(forgetting_factor)
        self.scale_history = scale_history

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.running_sums = self.add_optimizer_variables(variables, "running_sum")

    def update_step(self, gradient, variable, learning_rate):
        running_sum = self.running_sums[self._get_variable_index(variable)]
        # Every row of the running sum decays at every step, so rows an
        # Embedding did not touch still move: the step is dense whatever the
        # gradient, and a densified gradient gives exactly the dense result.
        gradient = ops.cast(tf.convert_to_tensor(gradient), variable.dtype)
        change, new_running_sum = recurrent_update(
            gradient,
            running_sum,
            ops.cast(learning_rate, variable.dtype),
            # Not ops.cast: it rounds a Python float to float32 first, which
            # float64 weights would notice.
            forgetting_factor=ops.convert_to_tensor(
                self.forgetting_factor, dtype=variable.dtype
            ),
            scale_history=self.scale_history,
        )
        self.assign_add(variable, change)
        self.assign(running_sum, new_running_sum)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "forgetting_factor": self.forgetting_factor,
                "scale_history": self.scale_history,
            }
        )
        return config
