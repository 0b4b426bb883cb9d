"""Data sets prepared by tensorflow-datasets, loaded without downloading."""

import os
from pathlib import Path

import numpy as np

from applications.common.cli import AppError

DEFAULT_DIR = "~/tensorflow_datasets"


def missing_message(name: str, title: str, data_dir: Path | None) -> str | None:
    """Why data set `name` cannot be loaded from `data_dir` and the fix, or None.

    `title` names the data set for people ("IMDB reviews").
    """
    where = data_dir or Path(os.environ.get("TFDS_DATA_DIR", DEFAULT_DIR))
    # tensorflow-datasets writes dataset_info.json once a version is prepared;
    # looking for it directly keeps this check free of TensorFlow's start-up.
    if list(where.expanduser().glob(f"{name}/**/dataset_info.json")):
        return None
    return (
        f"no prepared {title} in {where}: run `tfds build {name} --data_dir "
        f"{where}` on a machine with network (copy the directory here if that "
        f"is another machine), then pass --data-dir {where}"
    )


def load_train_test(
    name: str, title: str, data_dir: Path | None
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The `(inputs, labels)` NumPy arrays of the train and test splits.

    Raises:
        AppError: when `data_dir` holds no prepared `name`.
    """
    message = missing_message(name, title, data_dir)
    if message is not None:
        raise AppError(message)
    import tensorflow_datasets as tfds

    train, test = tfds.as_numpy(
        tfds.load(
            name,
            split=["train", "test"],
            data_dir=None if data_dir is None else os.fspath(data_dir),
            download=False,
            batch_size=-1,
            as_supervised=True,
        )
    )
    return train, test
