"""The training budget of one run, and when a validation curve reaches a target.

`Budget` is a Keras callback that keeps the clock: it counts training
seconds (validation excluded), records them at the end of every epoch, and
stops `fit` once the budget is spent. `first_reaching` reads the epoch and
the second at which a curve first reached a target; it is a pure function
of the recorded numbers.
"""

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class Target:
    """A level of a validation metric that counts as solved.

    Attributes:
        threshold: the level.
        higher_is_better: True for accuracies (reached at `>= threshold`),
            False for errors and losses (reached at `<= threshold`).
        description: where the threshold comes from, for the report.
    """

    threshold: float
    higher_is_better: bool
    description: str

    def reached(self, value: float) -> bool:
        """Whether `value` is at the target or better (NaN never is)."""
        if self.higher_is_better:
            return value >= self.threshold
        return value <= self.threshold


def first_reaching(
    curve: Sequence[float], seconds: Sequence[float], target: Target
) -> tuple[int, float] | None:
    """`(epoch, seconds)` of the first epoch whose value reaches `target`.

    Args:
        curve: the validation metric after each epoch.
        seconds: the training seconds elapsed at the end of each epoch.

    Returns:
        The epoch counted from 1 and its elapsed seconds, or None when no
        epoch reached the target.
    """
    if len(curve) != len(seconds):
        raise ValueError(
            f"curve and seconds must be as long, got {len(curve)} and {len(seconds)}"
        )
    for epoch, (value, elapsed) in enumerate(zip(curve, seconds), start=1):
        if target.reached(value):
            return epoch, float(elapsed)
    return None


class Budget(keras.callbacks.Callback):
    """Stop `fit` after `seconds` of training; record the seconds per epoch.

    The clock runs from the start of `fit` and leaves out the validation at
    the end of each epoch, so a slow evaluation costs no optimizer any of
    its budget. The epoch cap is `fit`'s own `epochs`.

    Attributes:
        elapsed: the training seconds at the end of each epoch.
    """

    def __init__(self, seconds: float):
        super().__init__()
        if not 0 < seconds < math.inf:
            raise ValueError(f"seconds must be a positive number, got {seconds}")
        self.seconds = seconds
        self.elapsed: list[float] = []

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._validating = 0.0
        self.elapsed = []

    def on_test_begin(self, logs=None):
        self._test_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self._validating += time.perf_counter() - self._test_start

    def on_epoch_end(self, epoch, logs=None):
        self.elapsed.append(time.perf_counter() - self._start - self._validating)
        if self.elapsed[-1] >= self.seconds:
            self.model.stop_training = True
