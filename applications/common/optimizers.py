"""The `--optimizer` choices: CLI names mapped to optimizer constructors."""

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OptimizerChoice:
    """How to build the optimizer behind one `--optimizer` name.

    Attributes:
        target: `"module:attribute"` of the optimizer class, imported only
            when the optimizer is built, so listing the choices stays cheap.
        options: keyword arguments always passed to the class.
        full_batch: whether the optimizer wants the whole training set as one
            batch (Rprop does: it follows the sign of the gradient).
        summary: one line for `--help`.
    """

    target: str
    options: Mapping[str, Any] = field(default_factory=dict)
    full_batch: bool = False
    summary: str = ""

    def build(self, learning_rate: float | None = None):
        """A fresh optimizer; `learning_rate=None` keeps the class default."""
        module_name, _, attribute = self.target.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        options = dict(self.options)
        if learning_rate is not None:
            options["learning_rate"] = learning_rate
        return factory(**options)


def _rprop(variant: str, summary: str) -> OptimizerChoice:
    return OptimizerChoice(
        "keras_bp:Rprop", {"variant": variant}, full_batch=True, summary=summary
    )


OPTIMIZERS: dict[str, OptimizerChoice] = {
    "irprop-": _rprop("irprop-", "keras_bp.Rprop() (the default variant)"),
    "irprop+": _rprop("irprop+", "keras_bp.Rprop(variant='irprop+')"),
    "rprop-": _rprop("rprop-", "keras_bp.Rprop(variant='rprop-')"),
    "rprop+": _rprop("rprop+", "keras_bp.Rprop(variant='rprop+')"),
    "recurrent": OptimizerChoice(
        "keras_bp:RecurrentBackprop",
        summary="keras_bp.RecurrentBackprop() (forgetting factor 0.9, scaled form)",
    ),
    "recurrent-as-written": OptimizerChoice(
        "keras_bp:RecurrentBackprop",
        # The history is not scaled by eta in this form: 0.9 diverges, 0.2 trains.
        {"forgetting_factor": 0.2, "scale_history": False},
        summary="keras_bp.RecurrentBackprop(forgetting_factor=0.2, "
        "scale_history=False)",
    ),
    "sgd": OptimizerChoice("keras.optimizers:SGD", summary="keras.optimizers.SGD"),
    "sgd-momentum": OptimizerChoice(
        "keras.optimizers:SGD",
        {"momentum": 0.9},
        summary="keras.optimizers.SGD(momentum=0.9)",
    ),
    "adam": OptimizerChoice("keras.optimizers:Adam", summary="keras.optimizers.Adam"),
}

DEFAULT_OPTIMIZER = "irprop-"

# Batch size for optimizers that do not want the full batch: Keras's default.
MINI_BATCH_SIZE = 32


def batch_size_for(name: str, requested: int | None, num_examples: int) -> int:
    """The batch size to train with: `requested`, else the optimizer's default."""
    if requested is not None:
        return requested
    return num_examples if OPTIMIZERS[name].full_batch else MINI_BATCH_SIZE
