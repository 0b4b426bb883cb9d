"""Application pipelines that train keras_bp models on real data.

Each task (`digits`, ...) is a package with a data module, a model module and
a command line (`python -m applications.<task> --help`); the plumbing they
share (flags, optimizer choice, training, reports) lives in
`applications.common`.
"""
