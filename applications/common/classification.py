"""Test-set summaries of a classifier: accuracy, macro-F1, per-class table."""

from collections.abc import Sequence
from typing import Any

import numpy as np


def summarize(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 and a per-class table.

    Args:
        y_true, y_pred: class indices into `class_names`.
        class_names: one name per class.

    Returns:
        `accuracy`, `macro_f1` (each class counts the same, however rare),
        `per_class` (name -> precision, recall, f1, support) and
        `confusion_matrix` (rows true, columns predicted).
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            name: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def majority_class_accuracy(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """The test accuracy of always answering the commonest training class."""
    return float(np.mean(test_labels == np.bincount(train_labels).argmax()))


def format_per_class(summary: dict[str, Any]) -> str:
    """The per-class table of `summarize` as aligned text."""
    rows = summary["per_class"]
    width = max(len("class"), *(len(name) for name in rows))
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    lines += [
        f"{name:<{width}}  {r['precision']:9.3f}  {r['recall']:6.3f}  "
        f"{r['f1']:5.3f}  {r['support']:7d}"
        for name, r in rows.items()
    ]
    return "\n".join(lines)
