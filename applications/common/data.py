"""The arrays a pipeline's data module hands to training."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Splits:
    """Train, validation and test sets, each an `(inputs, targets)` pair."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]

    def sizes(self) -> dict[str, int]:
        """Number of examples in each split."""
        return {
            "train": len(self.train[0]),
            "validation": len(self.validation[0]),
            "test": len(self.test[0]),
        }
