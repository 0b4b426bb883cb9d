"""Race the optimizers on the pipelines' tasks and on the 10-5-10 encoder.

`python -m applications.compare --output DIR` trains every optimizer of
`applications.common.optimizers.OPTIMIZERS`, with its documented defaults,
on the same model, data split and seeds of each task, within the same
budget of training seconds or epochs, and writes comparison.md,
comparison.json and one PNG of validation curves per task; see `--help`.
"""
