"""Text classification with recurrent networks and a bag-of-n-grams baseline.

`python -m applications.text` tells which of 15 languages a chatterbot-corpus
utterance is written in, with a character GRU trained by BPTT
(`keras_bp.BPTTModel`); `--model bow` trains a bag of character n-grams,
`--task topic` predicts an English conversation's topic; see `--help`.
"""
