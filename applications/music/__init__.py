"""Melody generation with truncated backpropagation through time.

`python -m applications.music` trains a `keras_bp.BPTTModel` (an LSTM or GRU
cell) on the soprano lines of the Bach chorales in music21's corpus (or on
the melodies of your own MIDI files), note by note with truncated BPTT
across whole pieces, and compares its test-set likelihood with n-gram
models; `python -m applications.music generate` writes new melodies as MIDI
and piano-roll images. See `--help`.
"""
