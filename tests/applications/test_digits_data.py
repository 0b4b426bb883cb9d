"""Loading and splitting the digit data sets."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from applications.common.cli import AppError
from applications.digits import data


@pytest.fixture(scope="module")
def splits():
    return data.load_digits()


def test_digits_split_holds_every_sklearn_image_exactly_once(splits):
    reference = load_digits()
    expected = np.column_stack([reference.data / 16.0, reference.target])
    parts = [splits.train, splits.validation, splits.test]
    got = np.concatenate(
        [np.column_stack([x.reshape(len(x), -1), y]) for x, y in parts]
    )
    np.testing.assert_allclose(
        got[np.lexsort(got.T)], expected[np.lexsort(expected.T)], rtol=1e-6
    )


def test_digits_split_sizes_dtypes_and_ranges(splits):
    assert splits.sizes() == {"train": 1258, "validation": 180, "test": 359}
    for images, labels in (splits.train, splits.validation, splits.test):
        assert images.dtype == np.float32 and images.shape[1:] == (8, 8, 1)
        assert 0.0 <= images.min() and images.max() == 1.0
        assert labels.dtype == np.int32 and set(labels) == set(range(10))


def test_digits_split_keeps_each_class_share(splits):
    labels = load_digits().target
    overall = np.bincount(labels) / len(labels)
    for _, part in (splits.train, splits.validation, splits.test):
        share = np.bincount(part, minlength=10) / len(part)
        # Stratified: off by at most one example per class.
        np.testing.assert_array_less(np.abs(share - overall), 1.0 / len(part) + 1e-9)


def test_stratified_split_is_disjoint_complete_and_seeded():
    labels = np.repeat(np.arange(5), 40)
    index = np.arange(len(labels))
    first = data.split(index, labels, seed=3)
    again = data.split(index, labels, seed=3)
    other = data.split(index, labels, seed=4)
    parts = [first.train[0], first.validation[0], first.test[0]]
    assert [len(p) for p in parts] == [140, 20, 40]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), index)
    for mine, twin in zip(parts, [again.train, again.validation, again.test]):
        np.testing.assert_array_equal(mine, twin[0])
    assert not np.array_equal(first.test[0], other.test[0])
    # Each image keeps its own label.
    for images, part_labels in (first.train, first.validation, first.test):
        np.testing.assert_array_equal(labels[images], part_labels)


def test_default_split_is_fixed_across_loads(splits):
    np.testing.assert_array_equal(data.load_digits().test[0], splits.test[0])


def test_mnist_absent_says_how_to_prepare_it(tmp_path):
    with pytest.raises(AppError, match="tfds build mnist --data_dir"):
        data.load_mnist(tmp_path)


def test_mnist_prepared_is_recognised(tmp_path):
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)
    (tmp_path / "mnist" / "3.0.1" / "dataset_info.json").write_text("{}")
    assert data.mnist_missing_message(tmp_path) is None
