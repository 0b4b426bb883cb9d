"""Handwritten-digit recognition with static backpropagation.

`python -m applications.digits` trains a small dense network (or, with
`--model cnn`, a small CNN) on scikit-learn's 8x8 digits with
`keras_bp.Rprop()` on the full batch; see `--help`.
"""
