"""Plumbing shared by every pipeline: flags, optimizers, training, reports.

`cli`, `optimizers` and `data` import neither TensorFlow nor Keras, so a
pipeline parses its arguments and checks its data before paying for (and
printing the log lines of) TensorFlow's start-up; `training` and `report` do
the heavy work.
"""
