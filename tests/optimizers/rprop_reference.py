"""An independent NumPy transcription of Rprop and iRprop (Igel & Huesken 2000)."""

import numpy as np


class NumpyRprop:
    """Element by element, as the papers write the algorithms."""

    def __init__(self, w0, lr, etas, step_sizes, variant):
        self.w = np.array(w0, dtype=np.float64)
        self.eta_minus, self.eta_plus = etas
        self.step_min, self.step_max = step_sizes
        self.delta = np.full_like(self.w, min(max(lr, self.step_min), self.step_max))
        self.g_prev = np.zeros_like(self.w)
        self.dw_prev = np.zeros_like(self.w)
        self.e_prev = None
        self.variant = variant

    def step(self, g, loss=None):
        g = np.array(g, dtype=np.float64).reshape(self.w.shape).copy()
        loss_rose = self.e_prev is not None and loss > self.e_prev
        self.e_prev = loss
        for i in np.ndindex(self.w.shape):
            p = g[i] * self.g_prev[i]
            if p > 0:
                self.delta[i] = min(self.delta[i] * self.eta_plus, self.step_max)
            elif p < 0:
                self.delta[i] = max(self.delta[i] * self.eta_minus, self.step_min)
            if self.variant == "rprop-":
                self.w[i] -= np.sign(g[i]) * self.delta[i]
            elif self.variant == "irprop-":
                if p < 0:
                    g[i] = 0.0
                self.w[i] -= np.sign(g[i]) * self.delta[i]
            else:
                if p < 0:
                    undo = self.variant == "rprop+" or loss_rose
                    dw = -self.dw_prev[i] if undo else 0.0
                    g[i] = 0.0
                else:
                    dw = -np.sign(g[i]) * self.delta[i]
                self.w[i] += dw
                self.dw_prev[i] = dw
            self.g_prev[i] = g[i]
        return self.w.copy()
