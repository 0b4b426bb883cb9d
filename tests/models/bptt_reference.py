"""An independent NumPy transcription of BPTT for an Elman network.

h_t = tanh(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias),
y_t = h_t @ output_kernel + output_bias, loss = mean squared error. The
backward pass is the textbook recursion, step by step, in float64.
"""

import numpy as np

NAMES = ("kernel", "recurrent_kernel", "bias", "output_kernel", "output_bias")


def forward(weights, x, h0):
    """States h_1..h_T (B, T, units) and outputs (B, T, 1) from h_0 = h0."""
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(
            x[:, t] @ weights["kernel"]
            + h @ weights["recurrent_kernel"]
            + weights["bias"]
        )
        states.append(h)
    states = np.stack(states, axis=1)
    return states, states @ weights["output_kernel"] + weights["output_bias"]


def window_loss_and_grads(weights, x, y, h0, loss_steps, mask=None):
    """MSE over the last `loss_steps` outputs of x and its exact gradients.

    `mask` (B, T) of 0/1 marks valid steps: a masked step keeps the state
    and is left out of the mean, as Keras treats padded steps.

    Returns:
        `(loss, grads, states, dloss_dstates)`: grads a dict keyed by `NAMES`,
        `dloss_dstates` (B, T, units) the total dL/dh_t.
    """
    weights = {name: np.asarray(value, float) for name, value in weights.items()}
    batch, steps = x.shape[:2]
    mask = np.ones((batch, steps)) if mask is None else np.asarray(mask, float)
    h, states, previous = h0, [], []
    for t in range(steps):
        new = np.tanh(
            x[:, t] @ weights["kernel"]
            + h @ weights["recurrent_kernel"]
            + weights["bias"]
        )
        previous.append(h)
        m = mask[:, t : t + 1]
        h = m * new + (1 - m) * h
        states.append(h)
    states = np.stack(states, axis=1)
    outputs = states @ weights["output_kernel"] + weights["output_bias"]
    first = steps - loss_steps
    weight = mask[:, first:, None]
    # The mean over valid steps and over the outputs, as Keras's MSE.
    count = weight.sum() * outputs.shape[2]
    error = (outputs[:, first:] - y[:, first:]) * weight
    loss = (error**2).sum() / count
    dy = np.zeros_like(outputs)
    dy[:, first:] = 2 * error / count
    grads = {name: np.zeros_like(value) for name, value in weights.items()}
    grads["output_kernel"] = np.einsum("btu,bto->uo", states, dy)
    grads["output_bias"] = dy.sum(axis=(0, 1))
    direct = dy @ weights["output_kernel"].T
    dstates = np.zeros_like(states)
    carried = np.zeros_like(h0)
    for t in reversed(range(steps)):
        dh = direct[:, t] + carried
        dstates[:, t] = dh
        m = mask[:, t : t + 1]
        delta = m * dh * (1 - states[:, t] ** 2)
        grads["kernel"] += x[:, t].T @ delta
        grads["recurrent_kernel"] += previous[t].T @ delta
        grads["bias"] += delta.sum(axis=0)
        carried = delta @ weights["recurrent_kernel"].T + (1 - m) * dh
    return loss, grads, states, dstates


def truncated_bptt(weights, x, y, k1, k2, update=None):
    """BPTT(k2; k1): windows end every k1 steps, gradients go back k2 steps.

    Window i scores steps (i k1, (i + 1) k1] and starts at step
    (i + 1) k1 - k2 (clipped at 0); the last one, when k1 does not divide T,
    is cut short at T. The state entering a window is the one the latest
    forward pass computed (with the weights of that moment). With `update`,
    `update(weights, grads, loss)` returns the weights after each window.

    Returns:
        `(windows, weights)`: a list of `(loss, grads)`, one per window, and
        the weights after the last update.
    """
    weights = {name: np.array(value, float) for name, value in weights.items()}
    steps = x.shape[1]
    known = {0: np.zeros((x.shape[0], weights["bias"].shape[0]))}
    windows = []
    for scored_from in range(0, steps, k1):
        end = min(scored_from + k1, steps)
        start = max(scored_from + k1 - k2, 0)
        loss, grads, states, _ = window_loss_and_grads(
            weights, x[:, start:end], y[:, start:end], known[start], end - scored_from
        )
        for offset in range(states.shape[1]):
            known[start + offset + 1] = states[:, offset]
        windows.append((loss, grads))
        if update is not None:
            weights = update(weights, grads, loss)
    return windows, weights


def sgd(learning_rate):
    """An `update` for `truncated_bptt`: w -= learning_rate * grad."""
    return lambda weights, grads, loss: {
        name: weights[name] - learning_rate * grads[name] for name in weights
    }
