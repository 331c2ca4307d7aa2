"""The reference point of the benchmark: an LSTM written the way tutorials write it.

Four separate gate weights acting on the concatenation [h, x] at every step,
one matrix product per gate and per step, the sigmoid as 1 / (1 + exp(-z)),
Python lists of per-step caches, and a backward pass that mirrors the forward
step by step (the weight gradients are accumulated step by step too).

It computes the same function as ``lstm_np.sequence.lstm.LSTM`` (no masks): the
benchmark asserts equal outputs and gradients before timing anything.
Weights come from an ``lstm_np`` layer with ``TutorialLSTM.from_lstm_np``.

Shapes: B batch, T steps, D inputs, H hidden units.
"""

from __future__ import annotations

import numpy as np

GATES = ("i", "f", "o", "g")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class TutorialLSTM:
    """Per-gate weights ``W[k]`` (H + D, H) on [h, x] and biases ``b[k]`` (H,), k in i, f, o, g."""

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.H = W["i"].shape[1]
        self.grads = {}

    @classmethod
    def from_lstm_np(cls, lstm):
        """Split the fused ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,) into per-gate blocks."""
        p, H = lstm.params, lstm.hidden_size
        W, b = {}, {}
        for n, k in enumerate(GATES):
            cols = slice(n * H, (n + 1) * H)
            W[k] = np.concatenate([p["Wh"][:, cols], p["Wx"][:, cols]], axis=0)  # rows: h first, then x
            b[k] = p["b"][cols].copy()
        return cls(W, b)

    def forward(self, x, h0=None, c0=None):
        """x : (B, T, D). Returns out (B, T, H), (h_T, c_T), cache."""
        B, T, _ = x.shape
        H = self.H
        h = np.zeros((B, H), x.dtype) if h0 is None else h0
        c = np.zeros((B, H), x.dtype) if c0 is None else c0
        W, b = self.W, self.b
        outs, steps = [], []
        for t in range(T):
            hx = np.concatenate([h, x[:, t, :]], axis=1)
            i = sigmoid(hx @ W["i"] + b["i"])
            f = sigmoid(hx @ W["f"] + b["f"])
            o = sigmoid(hx @ W["o"] + b["o"])
            g = np.tanh(hx @ W["g"] + b["g"])
            c_prev = c
            c = f * c_prev + i * g
            tanh_c = np.tanh(c)
            h = o * tanh_c
            outs.append(h)
            steps.append((hx, i, f, o, g, c_prev, tanh_c))
        out = np.stack(outs, axis=1)
        return out, (h, c), steps

    def backward(self, dout, steps):
        """dout : (B, T, H). Returns dx (B, T, D), dh0, dc0; weight gradients in ``grads``."""
        B, T, H = dout.shape
        W = self.W
        dW = {k: np.zeros_like(W[k]) for k in GATES}
        db = {k: np.zeros_like(self.b[k]) for k in GATES}
        dh_next = np.zeros((B, H), dout.dtype)
        dc_next = np.zeros((B, H), dout.dtype)
        dxs = [None] * T
        for t in reversed(range(T)):
            hx, i, f, o, g, c_prev, tanh_c = steps[t]
            dh = dout[:, t, :] + dh_next
            dc = dc_next + dh * o * (1 - tanh_c**2)
            dzi = dc * g * i * (1 - i)
            dzf = dc * c_prev * f * (1 - f)
            dzo = dh * tanh_c * o * (1 - o)
            dzg = dc * i * (1 - g**2)
            dhx = np.zeros_like(hx)
            for k, dz in (("i", dzi), ("f", dzf), ("o", dzo), ("g", dzg)):
                dW[k] += hx.T @ dz
                db[k] += dz.sum(axis=0)
                dhx += dz @ W[k].T
            dh_next = dhx[:, :H]
            dxs[t] = dhx[:, H:]
            dc_next = dc * f
        self.grads = {"W": dW, "b": db}
        return np.stack(dxs, axis=1), dh_next, dc_next

    def fused_grads(self):
        """The weight gradients in lstm_np's fused layout: {"Wx", "Wh", "b"}."""
        dW, db, H = self.grads["W"], self.grads["b"], self.H
        return {
            "Wx": np.concatenate([dW[k][H:] for k in GATES], axis=1),
            "Wh": np.concatenate([dW[k][:H] for k in GATES], axis=1),
            "b": np.concatenate([db[k] for k in GATES]),
        }
