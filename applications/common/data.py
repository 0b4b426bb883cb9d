"""The arrays a pipeline's data module hands to training, and how to split them."""

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


def stratified_split(
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    test_size: int,
    validation_size: int,
    seed: int,
) -> Splits:
    """Split into train/validation/test, each with every class's share.

    `test_size` and `validation_size` count examples; the train split gets
    the rest. The same `seed` gives the same split.
    """
    rest, test = stratified_holdout(inputs, labels, test_size, seed)
    train, validation = stratified_holdout(*rest, validation_size, seed)
    return Splits(train=train, validation=validation, test=test)


def stratified_holdout(
    inputs: np.ndarray, labels: np.ndarray, size: int, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold `size` examples out, every class keeping its share in both parts.

    Returns `(rest, held_out)`, each an `(inputs, labels)` pair.
    """
    # Imported here: scikit-learn takes seconds to import, and the command
    # lines import this module to parse their flags.
    from sklearn.model_selection import train_test_split

    rest_inputs, held_inputs, rest_labels, held_labels = train_test_split(
        inputs, labels, test_size=size, random_state=seed, stratify=labels
    )
    return (rest_inputs, rest_labels), (held_inputs, held_labels)
