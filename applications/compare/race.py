"""One run of the race: one optimizer, one seed, one task, within the budget."""

import time
from typing import Any

import keras
import numpy as np

from applications.common.optimizers import OPTIMIZERS, batch_size_for
from applications.compare.budget import Budget, first_reaching
from applications.compare.tasks import Task


def run(
    task: Task, optimizer: str, seed: int, *, budget_seconds: float, max_epochs: int
) -> dict[str, Any]:
    """Train `task`'s model with `optimizer` from `seed`; its curve and test metric.

    The optimizer keeps its class defaults; the batch is the whole training
    set for the Rprop variants and 32 examples otherwise. Training stops
    after `budget_seconds` of training or `max_epochs`, whichever comes
    first, or at the first non-finite loss (a diverged run: its later
    epochs would only burn the budget).

    Returns:
        `epochs`, `batch_size`, `curve` (the validation metric after each
        epoch), `seconds` (training seconds at the end of each epoch),
        `test` (the test metric at the end), `reached` (`[epoch, seconds]`
        of the first epoch at the target, or None), `diverged`, and
        `run_seconds` (the whole run, building and testing included).
    """
    start = time.perf_counter()
    batch_size = batch_size_for(optimizer, None, task.num_train)
    # Before seeding: a task may build its batches, and fit its vocabulary,
    # before the model that depends on them.
    fit_inputs, test_inputs = task.batches(batch_size, seed)
    # Earlier runs' layers and graphs are of no use and fill the memory.
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = task.build_model()
    model.compile(
        optimizer=OPTIMIZERS[optimizer].build(),
        loss=task.loss,
        metrics=list(task.metrics),
    )
    budget = Budget(budget_seconds)
    history = model.fit(
        **fit_inputs,
        epochs=max_epochs,
        callbacks=[budget, keras.callbacks.TerminateOnNaN()],
        verbose=0,
    )
    test = model.evaluate(**test_inputs, verbose=0, return_dict=True)
    curve = [float(v) * task.scale for v in history.history[task.validation_key]]
    seconds = budget.elapsed
    reached = first_reaching(curve, seconds, task.target)
    losses = history.history["loss"]
    return {
        "seed": seed,
        "batch_size": batch_size,
        "epochs": len(curve),
        "curve": curve,
        "seconds": seconds,
        "test": float(test[task.test_key]) * task.scale,
        "reached": None if reached is None else list(reached),
        "diverged": not np.all(np.isfinite(losses)),
        "run_seconds": time.perf_counter() - start,
    }
