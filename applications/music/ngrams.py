"""Unigram, bigram and interpolated trigram models: the baselines to beat.

They predict the same tokens as the network (every word and `<unknown>`,
never padding or `<start>`), from the same training pieces, the context of
a piece's first tokens padded with `<start>`:

```python
p1(w) = (count(w) + 1) / (N + V)                      # add-one unigram
pn(w | context) = lam_n * count(context, w) / count(context)
                  + (1 - lam_n) * p(n-1)(w | shorter context)
```

(Jelinek-Mercer interpolation; an unseen context gives its weight to the
shorter one). Each `lam_n` is chosen on the validation pieces, order by
order, from a grid.
"""

from collections import Counter
from collections.abc import Sequence

import numpy as np

from applications.music.data import START

LAMBDA_GRID = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))


class InterpolatedNGram:
    """An n-gram model of token sequences, interpolated down to add-one unigrams.

    Args:
        order: 1 (unigram), 2 (bigram), 3 (trigram), ...
        num_outcomes: how many distinct tokens can be predicted (V above).
    """

    def __init__(self, order: int, num_outcomes: int):
        if order < 1:
            raise ValueError(f"order must be a positive integer, got {order!r}")
        self.order = order
        self.num_outcomes = num_outcomes
        self.lambdas: list[float] = []
        self._counts: list[Counter] = []
        self._context_counts: list[Counter] = []
        self._total = 0

    def fit(
        self, train: Sequence[Sequence[int]], validation: Sequence[Sequence[int]]
    ) -> "InterpolatedNGram":
        """Count n-grams in `train`; choose the weights on `validation`."""
        self._counts = [Counter() for _ in range(self.order)]
        self._context_counts = [Counter() for _ in range(self.order)]
        for context, token in _events(train, self.order):
            for n in range(self.order):
                short = context[len(context) - n :]
                self._counts[n][short, token] += 1
                self._context_counts[n][short] += 1
        self._total = self._context_counts[0][()]
        self.lambdas = []
        for _ in range(1, self.order):
            self.lambdas.append(0.0)
            best = min(LAMBDA_GRID, key=lambda lam: self._nll_with(validation, lam))
            self.lambdas[-1] = float(best)
        return self

    def _nll_with(self, sequences, lam):
        self.lambdas[-1] = float(lam)
        return -float(np.mean(self.log_likelihoods(sequences)))

    def probability(self, context: tuple[int, ...], token: int) -> float:
        """p(token | the last order-1 tokens of context)."""
        p = (self._counts[0][(), token] + 1) / (self._total + self.num_outcomes)
        for n, lam in enumerate(self.lambdas, start=1):
            short = context[len(context) - n :]
            seen = self._context_counts[n][short]
            if seen:
                p = lam * self._counts[n][short, token] / seen + (1 - lam) * p
        return p

    def log_likelihoods(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """log p of every token of `sequences`, given its predecessors."""
        return np.log(
            [self.probability(c, t) for c, t in _events(sequences, self.order)]
        )


def _events(sequences, order):
    """(context, token) for every token, the context padded with `<start>`."""
    for sequence in sequences:
        padded = [START] * (order - 1) + list(sequence)
        for i, token in enumerate(sequence):
            yield tuple(padded[i : i + order - 1]), token
