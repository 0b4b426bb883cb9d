"""Handwritten digits: scikit-learn's 8x8 set (default) or MNIST, split once.

Images come as float32 arrays of shape `(n, height, width, 1)` scaled into
[0, 1], labels as int32 class indices 0-9.

scikit-learn and tensorflow-datasets are imported where they are used: the
command line imports this module to parse its flags, and `--help` or a bad
flag should answer at once.
"""

import os
from pathlib import Path

import numpy as np

from applications.common.cli import AppError
from applications.common.data import Splits, stratified_holdout, stratified_split

DATASETS = ("digits", "mnist")

# The split is part of the data set's definition, not of a run: every seed
# and every optimizer is measured on the same test images.
SPLIT_SEED = 0
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1
# MNIST has its own test set; the validation set is cut from its training set.
MNIST_VALIDATION_SIZE = 10_000
_TFDS_DEFAULT_DIR = "~/tensorflow_datasets"


def load_digits() -> Splits:
    """scikit-learn's 8x8 digits (1,797 images by 43 writers), split 70/10/20."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Pixels are counts 0-16 of set cells in a 4x4 block of the 32x32 scan.
    images = (bunch.images / 16.0).astype(np.float32)[..., np.newaxis]
    labels = bunch.target.astype(np.int32)
    return split(images, labels)


def split(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    test_fraction: float = TEST_FRACTION,
    validation_fraction: float = VALIDATION_FRACTION,
    seed: int = SPLIT_SEED,
) -> Splits:
    """Stratified train/validation/test split; fractions are of the whole set."""
    return stratified_split(
        images,
        labels,
        test_size=round(test_fraction * len(images)),
        validation_size=round(validation_fraction * len(images)),
        seed=seed,
    )


def mnist_missing_message(data_dir: Path | None) -> str | None:
    """Why MNIST cannot be loaded from `data_dir` and how to fix it, or None."""
    where = data_dir or Path(os.environ.get("TFDS_DATA_DIR", _TFDS_DEFAULT_DIR))
    # tensorflow-datasets writes dataset_info.json once a version is prepared;
    # looking for it directly keeps this check free of TensorFlow's start-up.
    if list(where.expanduser().glob("mnist/*/dataset_info.json")):
        return None
    return (
        f"MNIST is not prepared in {where}: run `tfds build mnist --data_dir "
        f"{where}` on a machine with network (copy the directory here if that "
        f"is another machine), then pass --data-dir {where}"
    )


def load_mnist(data_dir: Path | None) -> Splits:
    """MNIST from tensorflow-datasets in `data_dir`, never downloading it.

    Raises:
        AppError: when `data_dir` holds no prepared MNIST.
    """
    message = mnist_missing_message(data_dir)
    if message is not None:
        raise AppError(message)
    import tensorflow_datasets as tfds

    train, test = tfds.as_numpy(
        tfds.load(
            "mnist",
            split=["train", "test"],
            data_dir=None if data_dir is None else os.fspath(data_dir),
            download=False,
            batch_size=-1,
            as_supervised=True,
        )
    )
    train, validation = stratified_holdout(
        *_mnist_arrays(train), MNIST_VALIDATION_SIZE, SPLIT_SEED
    )
    return Splits(train=train, validation=validation, test=_mnist_arrays(test))


def _mnist_arrays(images_and_labels):
    images, labels = images_and_labels
    return (images / 255.0).astype(np.float32), labels.astype(np.int32)


def load(dataset: str, data_dir: Path | None = None) -> Splits:
    """The splits of `dataset` (one of `DATASETS`)."""
    if dataset == "digits":
        return load_digits()
    if dataset == "mnist":
        return load_mnist(data_dir)
    raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
